"""The cascade across utilities: what a feature of one utility needs from another (a boiler
house burns gas and needs power; a pumping station needs power) or a source from another voltage
level of its own (a 110/10 kV substation needs its 110 kV line), as data in
network_dependencies, and the dependents a trace's cut-off set stops."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import InvalidParameter, NotFound

# The demo's dependencies: the dependent (layer, kinds), the utility it needs, the supplier's
# layers and its lowest voltage (kV, 0: any); the nearest supplier feature in the topology
# within max_m metres is the one. A feeding 110/10 kV substation needs its 110 kV line.
DEMO_RULES = (
    ("heat_sources", ("boiler_house", "chp"), "gas", ("gas_pipelines",), 0.0, 60.0),
    ("heat_sources", ("boiler_house", "chp"), "electricity", ("power_lines",), 0.0, 60.0),
    ("water_facilities", ("pumping_station",), "electricity", ("power_lines",), 0.0, 60.0),
    ("sewer_facilities", ("pumping_station",), "electricity", ("power_lines",), 0.0, 60.0),
    ("power_substations", ("substation",), "electricity", ("power_lines",), 35.0, 5.0),
)


def add_dependency(session: Session, dependent_id: int, supplier_id: int, note: str | None) -> None:
    """Record that feature `dependent_id` needs feature `supplier_id` (of another utility, or of
    its own when the dependent is a source); both must be in the topology (else 404/422)."""
    found = session.execute(
        text(
            "SELECT f.id, l.utility_code, l.role = 'source' AS source,"
            " f.attributes ? 'voltage_kv' AS has_voltage FROM network_features f"
            " LEFT JOIN network_links l ON l.feature_id = f.id AND l.part = 0"
            " WHERE f.id IN (:d, :s)"
        ),
        {"d": dependent_id, "s": supplier_id},
    ).all()
    rows = {r.id: r.utility_code for r in found}
    is_source = {r.id: bool(r.source) for r in found}
    has_voltage = {r.id: bool(r.has_voltage) for r in found}
    for name, fid in (("dependent_id", dependent_id), ("supplier_id", supplier_id)):
        if fid not in rows:
            raise NotFound(
                f"Feature {fid} does not exist.", code="feature_not_found", **{name: fid}
            )
        if rows[fid] is None:
            raise InvalidParameter(
                f"Feature {fid} is not part of a network topology.", parameter=name
            )
    # Within one utility the topology decides, except where it cannot see: a source fed from
    # another voltage level (a 110/10 kV substation needs its 110 kV line; the transformer is
    # not a line in the topology).
    voltage_step = is_source[dependent_id] and has_voltage[supplier_id]
    if rows[dependent_id] == rows[supplier_id] and not voltage_step:
        raise InvalidParameter(
            "Within one utility the topology decides; a dependency there is for a source fed"
            " from another voltage level (a substation and its supply line, with voltage_kv).",
            parameter="dependent_id",
            utility=rows[supplier_id],
        )
    session.execute(
        text(
            "INSERT INTO network_dependencies (dependent_id, supplier_id, note)"
            " VALUES (:d, :s, :n) ON CONFLICT (dependent_id, supplier_id) DO UPDATE SET note = :n"
        ),
        {"d": dependent_id, "s": supplier_id, "n": note},
    )


def remove_dependency(session: Session, dependent_id: int, supplier_id: int) -> bool:
    """Forget a dependency; whether there was one."""
    return bool(
        session.execute(
            text("DELETE FROM network_dependencies WHERE dependent_id = :d AND supplier_id = :s"),
            {"d": dependent_id, "s": supplier_id},
        ).rowcount
    )


def dependencies(session: Session, feature_id: int) -> dict:
    """What the feature needs (its suppliers) and what needs it (its dependents)."""
    sql = (
        "SELECT f.id, f.utility_code AS utility, f.layer_id AS layer, f.name,"
        " f.attributes->>'kind' AS kind, d.note FROM network_dependencies d"
        " JOIN network_features f ON f.id = d.{other} WHERE d.{mine} = :i ORDER BY f.id"
    )
    needs = session.execute(
        text(sql.format(other="supplier_id", mine="dependent_id")), {"i": feature_id}
    ).mappings()
    needed_by = session.execute(
        text(sql.format(other="dependent_id", mine="supplier_id")), {"i": feature_id}
    ).mappings()
    return {"feature_id": feature_id, "needs": [dict(r) for r in needs],
            "needed_by": [dict(r) for r in needed_by]}  # fmt: skip


def demo_dependencies(session: Session) -> int:
    """Link every demo boiler house and pumping station to its nearest gas and power lines
    (replacing the demo's previous links, so loading twice gives the same rows and count)."""
    session.execute(
        text(
            "DELETE FROM network_dependencies d USING network_features f"
            " WHERE f.id = d.dependent_id AND f.is_demo AND d.note LIKE 'demo:%'"
        )
    )
    total = 0
    for layer, kinds, utility, suppliers, min_kv, max_m in DEMO_RULES:
        total += session.execute(
            text(
                "INSERT INTO network_dependencies (dependent_id, supplier_id, note)"
                " SELECT d.id, s.id, :note FROM network_features d"
                " CROSS JOIN LATERAL (SELECT g.id FROM network_features g"
                "   JOIN network_links l ON l.feature_id = g.id"
                "   WHERE g.layer_id = ANY(:suppliers) AND g.geom && ST_Expand(d.geom, 0.003)"
                "   AND coalesce((g.attributes->>'voltage_kv')::float, 0) >= :min_kv"
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
                "min_kv": min_kv,
                "max_m": max_m,
            },
        ).rowcount
    return total


# The features that need any of :ids (another utility's, or a substation fed by a line of a
# higher voltage), with their supplier, as JSON.
DEPENDENTS_JSON = (
    "SELECT coalesce(json_agg(json_build_object('id', d.id, 'utility_code', d.utility_code,"
    " 'layer_id', d.layer_id, 'name', d.name, 'kind', d.attributes->>'kind',"
    " 'supplier_id', s.id, 'supplier_utility', s.utility_code)"
    " ORDER BY d.utility_code, d.id, s.id), '[]')"
    " FROM network_dependencies n JOIN network_features d ON d.id = n.dependent_id"
    " JOIN network_features s ON s.id = n.supplier_id"
    " WHERE n.supplier_id = ANY(CAST(:ids AS bigint[]))"
)
