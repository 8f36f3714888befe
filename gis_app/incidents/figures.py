"""Which of an incident's cut-off figures came from a trace and which the dispatcher set."""

from __future__ import annotations

# The figures a trace fills; the dispatcher may correct each afterwards.
COMPUTED_FIELDS = (
    "consumers_cut_off",
    "social_objects_cut_off",
    "settlements_cut_off",
    "utilities_cut_off",
)


def figures_source(current: dict, computed: dict | None) -> dict:
    """For each cut-off figure: 'computed' (as the trace left it), 'dispatcher' (corrected since)
    or None (never computed)."""
    figures = (computed or {}).get("figures")
    if not figures:
        return {name: None for name in COMPUTED_FIELDS}
    return {
        name: "computed" if current.get(name) == figures.get(name) else "dispatcher"
        for name in COMPUTED_FIELDS
    }
