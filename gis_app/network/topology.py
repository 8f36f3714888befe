"""Building and keeping the network topology: nodes where line ends and points meet, links of
features to nodes, consumers' supplying lines. All in SQL, in the caller's transaction.

A batch (one layer's features) is linked greedily, as pgRouting's createTopology does: each end
joins the nearest existing node of its utility within the layer's `snap_tolerance_m`; the ends
left over are clustered among themselves (DBSCAN, same tolerance) and each cluster becomes a new
node. Lines are linked before points, so a device or a source joins the ends already there.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.layers import LayerDef, LayerRegistry, layer_registry
from gis_app.network import snapping
from gis_app.network.junctions import join_middles
from gis_app.network.snapping import ENDS

# Metres of one degree of latitude; a longitude degree is this times cos(latitude).
M_PER_DEG = 111_320.0
# The highest line voltage (kV) a consumer is supplied from: 0.4, 6, 10 and 20 kV distribution.
MAX_SUPPLY_KV = 20.0
# For the upkeep's statements (restored after): no JIT (compiling them cost ~0.15 s of an import
# of 200,000 lines, more than it saved) and room for the batch's sorts and hashes in memory (at
# the default 4 MB those of 200,000 lines spilled to disk).
UPKEEP_SETTINGS = {"jit": "off", "work_mem": "64MB"}


def topology_layers(registry: LayerRegistry, utility: str | None = None) -> list[LayerDef]:
    """The layers in the topology (those with `snap_tolerance_m`), lines first."""
    layers = [
        layer
        for layer in registry
        if layer.snap_tolerance_m is not None and (utility is None or layer.utility == utility)
    ]
    return sorted(layers, key=lambda layer: (layer.geometry != "LINESTRING", layer.id))


def link_features(
    session: Session,
    registry: LayerRegistry | None,
    layer: LayerDef,
    where: str,
    params: dict,
    near_consumers: bool = True,
    unlinked: bool = False,
) -> int:
    """(Re)link the features of `layer` chosen by the SQL condition `where` (on alias f); with
    near_consumers, then the consumers near the lines linked (a rebuild links them all last).
    `unlinked`: the caller knows they have no links (a rebuild deleted them), so there are none
    to look for (an index probe per feature: 0.2 s of 200,000 lines)."""
    if layer.supply_distance_m is not None:
        return link_consumers(session, registry, layer, where, params)
    if layer.snap_tolerance_m is None:
        return 0
    params = {**params, "layer": layer.id}
    where = f"f.layer_id = :layer AND ({where})"
    saved = _apply_settings(session, UPKEEP_SETTINGS)
    old_nodes = [] if unlinked else _drop_links(session, where, params)
    if not snapping.stage_ends(session, layer, where, params):
        _drop_orphans(session, old_nodes)
        _apply_settings(session, saved)
        return 0
    lines = [la for la in topology_layers(registry or _app_registry() or (), layer.utility)]
    reach = max([la.snap_tolerance_m for la in lines] or [layer.snap_tolerance_m])
    snapping.snap_ends(session, layer, reach)
    count = snapping.link(session, layer)
    join_middles(
        session,
        layer.utility,
        [la.id for la in lines if la.geometry == "LINESTRING"] or _own_lines(layer),
        reach,
        old_nodes,
        layer.geometry == "LINESTRING",
    )
    _drop_orphans(session, old_nodes)
    if near_consumers and layer.geometry == "LINESTRING":
        _relink_consumers_near(session, registry, layer)
    snapping.drop_tables(session)
    _apply_settings(session, saved)
    return count


def _apply_settings(session: Session, settings: dict[str, str]) -> dict[str, str]:
    """Set these settings for the rest of the transaction; the values they had."""
    names = sorted(settings)
    before = session.execute(
        text("SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(:n)"),
        {"n": names},
    ).all()
    session.execute(
        text("SELECT " + ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(names)))),
        {
            **{f"n{i}": n for i, n in enumerate(names)},
            **{f"v{i}": settings[n] for i, n in enumerate(names)},
        },  # fmt: skip
    )
    return dict(before)


def _own_lines(layer: LayerDef) -> list[str]:
    """Without a registry (a script's session), a lines layer joins its own lines' middles."""
    return [layer.id] if layer.geometry == "LINESTRING" else []


def _drop_links(session: Session, where: str, params: dict) -> list[int]:
    """Delete the links of the chosen features; the nodes they used."""
    rows = session.execute(
        text(
            "DELETE FROM network_links l USING network_features f WHERE l.feature_id = f.id"
            f" AND {where} RETURNING l.node_a, l.node_b"
        ),
        params,
    ).all()
    return sorted({n for row in rows for n in row if n is not None})


def _drop_orphans(session: Session, nodes: list[int]) -> None:
    """Delete those of `nodes` that no link uses any more."""
    if nodes:
        session.execute(
            text(
                "DELETE FROM network_nodes n WHERE n.id = ANY(:ids) AND NOT EXISTS"
                " (SELECT 1 FROM network_links l WHERE l.node_a = n.id OR l.node_b = n.id)"
            ),
            {"ids": nodes},
        )


def _line_utilities(session: Session, registry: LayerRegistry | None) -> list[str]:
    """The utilities with lines in the topology (from the layer files; else from the table)."""
    registry = registry or _app_registry()
    if registry is not None:
        return sorted(
            {la.utility for la in topology_layers(registry) if la.geometry == "LINESTRING"}
        )
    return list(session.execute(text("SELECT DISTINCT utility_code FROM network_nodes")).scalars())


def _app_registry() -> LayerRegistry | None:
    try:
        return layer_registry()
    except RuntimeError:  # no application: a script's own session
        return None


def link_consumers(
    session: Session, registry: LayerRegistry | None, layer: LayerDef, where: str, params: dict
) -> int:
    """Each chosen consumer's supplying line per utility: the nearest within supply distance."""
    params = {**params, "layer": layer.id, "dist": layer.supply_distance_m}
    where = f"f.layer_id = :layer AND ({where})"
    session.execute(
        text(
            "DELETE FROM consumer_supplies s USING network_features f WHERE s.consumer_id = f.id"
            f" AND {where}"
        ),
        params,
    )
    return session.execute(
        text(
            "INSERT INTO consumer_supplies (consumer_id, utility_code, feature_id, distance_m)"
            " SELECT f.id, u.code, near.id, near.d FROM network_features f"
            " CROSS JOIN (SELECT unnest(CAST(:utilities AS text[])) AS code) u"
            " CROSS JOIN LATERAL (SELECT g.id, ST_Distance(g.geom::geography, f.geom::geography) d"
            "   FROM network_features g JOIN network_links l ON l.feature_id = g.id"
            "   AND l.role = 'line' WHERE g.utility_code = u.code"
            "   AND g.geom && ST_Expand(f.geom, :dist / 111320.0 * 2.5)"
            # A building takes power at distribution voltage: a 35 kV and higher line feeds
            # substations, never a house beside it.
            f"   AND coalesce((g.attributes->>'voltage_kv')::float, 0) <= {MAX_SUPPLY_KV}"
            "   ORDER BY 2, g.id LIMIT 1) near"
            f" WHERE {where} AND near.d <= :dist"
        ),
        {**params, "utilities": _line_utilities(session, registry)},
    ).rowcount


def _consumer_layers(registry: LayerRegistry | None) -> list[LayerDef]:
    """The consumers layers: of `registry`, else of the running app (none outside one)."""
    registry = registry or _app_registry()
    return [la for la in registry or () if la.supply_distance_m is not None]


def _relink_consumers_near(
    session: Session, registry: LayerRegistry | None, lines: LayerDef
) -> None:
    """Consumers near the just-linked lines may now be supplied by one of them: those in the
    batch's extent that have a batch line within their supply distance (indexed both ways)."""
    for consumer_layer in _consumer_layers(registry):
        params = {"d": consumer_layer.supply_distance_m / M_PER_DEG * 2.5,
                  "l": consumer_layer.id, "lines": lines.id}  # fmt: skip
        session.execute(text("DROP TABLE IF EXISTS pg_temp.topo_near"))
        found = session.execute(
            text(
                "CREATE TEMPORARY TABLE topo_near ON COMMIT DROP AS SELECT c.id"
                " FROM network_features c WHERE c.layer_id = :l AND c.geom &&"
                f" {snapping.BATCH_BOX.format(d=':d')}"
                " AND EXISTS (SELECT 1 FROM network_features f WHERE f.layer_id = :lines"
                " AND f.geom && ST_Expand(c.geom, :d)"
                f" AND f.id IN (SELECT feature_id FROM {ENDS}))"
            ),
            params,
        ).rowcount
        if found:
            link_consumers(
                session, registry, consumer_layer, "f.id IN (SELECT id FROM topo_near)", {}
            )


def upkeep(
    session: Session,
    registry: LayerRegistry | None,
    layer: LayerDef,
    feature_ids: Iterable[int],
) -> int:
    """Relink a few features of one layer (a single-feature edit), in the caller's transaction."""
    ids = list(feature_ids)
    if not ids:
        return 0
    return link_features(session, registry, layer, "f.id = ANY(:ids)", {"ids": ids})


def upkeep_import(
    session: Session, registry: LayerRegistry | None, layer: LayerDef, operator_id: int
) -> int:
    """Relink what an import just wrote: the owner's features of the layer changed in this
    transaction (updated_at = now(), the transaction's start); removed ones went by cascade."""
    return link_features(
        session,
        registry,
        layer,
        "f.operator_id = :op AND f.updated_at = now()",
        {"op": operator_id},
    )


def rebuild(session: Session, registry: LayerRegistry, utility: str | None = None) -> dict:
    """Drop and rebuild the topology (of one utility or all), then the consumers' suppliers."""
    layers = topology_layers(registry, utility)
    utilities = sorted({layer.utility for layer in layers})
    session.execute(
        text("DELETE FROM network_links WHERE utility_code = ANY(:u)"), {"u": utilities}
    )
    session.execute(
        text("DELETE FROM network_nodes WHERE utility_code = ANY(:u)"), {"u": utilities}
    )
    counts = {}
    for layer in layers:
        counts[layer.id] = link_features(session, registry, layer, "true", {}, False, True)
    for layer in registry:
        if layer.supply_distance_m is not None:
            counts[layer.id] = link_consumers(session, registry, layer, "true", {})
    return counts
