"""Which of an incident's cut-off figures came from a trace and which a person typed."""

from __future__ import annotations

import json

# The figures a trace fills; the dispatcher may correct each afterwards.
COMPUTED_FIELDS = (
    "consumers_cut_off",
    "social_objects_cut_off",
    "settlements_cut_off",
    "utilities_cut_off",
)


def _same(a: object, b: object) -> bool:
    """Equal figures; lists (objects, settlements, utilities) in any order."""
    if isinstance(a, list) and isinstance(b, list):
        key = lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False)  # noqa: E731
        return sorted(map(key, a)) == sorted(map(key, b))
    return a == b


def _empty(value: object) -> bool:
    return value is None or value == []


def figures_source(current: dict, computed: dict | None) -> dict:
    """For each cut-off figure: 'computed' (as the last trace left it), 'dispatcher' (typed by a
    person: corrected since the trace, or entered with no trace) or None (nothing there)."""
    figures = (computed or {}).get("figures")
    if not figures:
        return {
            name: None if _empty(current.get(name)) else "dispatcher" for name in COMPUTED_FIELDS
        }
    return {
        name: "computed" if _same(current.get(name), figures.get(name)) else "dispatcher"
        for name in COMPUTED_FIELDS
    }
