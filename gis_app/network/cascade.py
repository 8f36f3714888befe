"""The cascade across utilities: what a feature of one utility needs from another (a boiler
house burns gas and needs power; a pumping station needs power), as data in
network_dependencies, and the dependents a trace's cut-off set stops."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# The demo's dependencies: the dependent (layer, kinds), the utility it needs and the supplier's
# layers; the nearest supplier feature in the topology within max_m metres is the one.
DEMO_RULES = (
    ("heat_sources", ("boiler_house", "chp"), "gas", ("gas_pipelines",), 60.0),
    ("heat_sources", ("boiler_house", "chp"), "electricity", ("power_lines",), 60.0),
    ("water_facilities", ("pumping_station",), "electricity", ("power_lines",), 60.0),
    ("sewer_facilities", ("pumping_station",), "electricity", ("power_lines",), 60.0),
)


def add_dependency(session: Session, dependent_id: int, supplier_id: int, note: str | None) -> None:
    """Record that feature `dependent_id` needs feature `supplier_id` (of another utility)."""
    session.execute(
        text(
            "INSERT INTO network_dependencies (dependent_id, supplier_id, note)"
            " VALUES (:d, :s, :n) ON CONFLICT (dependent_id, supplier_id) DO UPDATE SET note = :n"
        ),
        {"d": dependent_id, "s": supplier_id, "n": note},
    )


def demo_dependencies(session: Session) -> int:
    """Link every demo boiler house and pumping station to its nearest gas and power lines."""
    total = 0
    for layer, kinds, utility, suppliers, max_m in DEMO_RULES:
        total += session.execute(
            text(
                "INSERT INTO network_dependencies (dependent_id, supplier_id, note)"
                " SELECT d.id, s.id, :note FROM network_features d"
                " CROSS JOIN LATERAL (SELECT g.id FROM network_features g"
                "   JOIN network_links l ON l.feature_id = g.id"
                "   WHERE g.layer_id = ANY(:suppliers) AND g.geom && ST_Expand(d.geom, 0.003)"
                "   AND ST_DWithin(g.geom::geography, d.geom::geography, :max_m)"
                "   ORDER BY g.geom <-> d.geom LIMIT 1) s"
                " WHERE d.is_demo AND d.layer_id = :layer AND d.attributes->>'kind' = ANY(:kinds)"
                " ON CONFLICT DO NOTHING"
            ),
            {
                "note": f"demo: needs {utility}",
                "suppliers": list(suppliers),
                "layer": layer,
                "kinds": list(kinds),
                "max_m": max_m,
            },
        ).rowcount
    return total


def dependents_of(session: Session, feature_ids: list[int]) -> list[dict]:
    """The features (of other utilities) that need any of `feature_ids`, with their supplier."""
    if not feature_ids:
        return []
    rows = session.execute(
        text(
            "SELECT d.id, d.utility_code, d.layer_id, d.name, d.attributes->>'kind' AS kind,"
            " s.id AS supplier_id, s.utility_code AS supplier_utility"
            " FROM network_dependencies n JOIN network_features d ON d.id = n.dependent_id"
            " JOIN network_features s ON s.id = n.supplier_id"
            " WHERE n.supplier_id = ANY(:ids) ORDER BY d.utility_code, d.id"
        ),
        {"ids": feature_ids},
    ).mappings()
    return [dict(r) for r in rows]
