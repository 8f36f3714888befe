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
from gis_app.network.junctions import join_middles

ENDS = "pg_temp.topo_ends"
PTS = "pg_temp.topo_pts"
# Metres of one degree of latitude; a longitude degree is this times cos(latitude).
M_PER_DEG = 111_320.0


def topology_layers(registry: LayerRegistry, utility: str | None = None) -> list[LayerDef]:
    """The layers in the topology (those with `snap_tolerance_m`), lines first."""
    layers = [
        layer
        for layer in registry
        if layer.snap_tolerance_m is not None and (utility is None or layer.utility == utility)
    ]
    return sorted(layers, key=lambda layer: (layer.geometry != "LINESTRING", layer.id))


def _role_sql(layer: LayerDef) -> str:
    """SQL giving a feature's role from its `kind` (the kinds come from a checked layer file)."""
    if layer.geometry == "LINESTRING":
        return "'line'"
    cases = []
    for role, kinds in (("source", layer.source_kinds), ("device", layer.device_kinds)):
        if kinds:
            quoted = ", ".join("'" + k.replace("'", "''") + "'" for k in kinds)
            cases.append(f"WHEN f.attributes->>'kind' IN ({quoted}) THEN '{role}'")
    return f"CASE {' '.join(cases)} ELSE 'point' END" if cases else "'point'"


def _stage_ends(session: Session, layer: LayerDef, where: str, params: dict) -> int:
    """Stage the line ends (or points) of the chosen features, and their distinct positions.

    Each position gets a number (`pt`) so that ends, positions and clusters join on one integer
    column: a join on the two float columns x = x AND y = y is estimated at a few dozen rows
    (the planner multiplies the two selectivities), and on 100,000 lines the planner then
    nested-looped the ends over the ends (10^10 comparisons; the 1M rebuild never finished)."""
    for table in (ENDS, PTS):
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    if layer.geometry == "LINESTRING":
        select = (
            "SELECT f.id, e.n, e.g FROM network_features f CROSS JOIN LATERAL (VALUES"
            " (0, ST_StartPoint(ST_GeometryN(f.geom, 1))),"
            " (1, ST_EndPoint(ST_GeometryN(f.geom, ST_NumGeometries(f.geom))))) AS e(n, g)"
        )
    else:
        select = "SELECT f.id, 0, ST_GeometryN(f.geom, 1) FROM network_features f"
    # text(): temporary tables have no ORM form; the layer's SQL pieces come from its file.
    count = session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_ends ON COMMIT DROP AS SELECT feature_id, end_no, x, y,"
            " dense_rank() OVER (ORDER BY x, y) AS pt FROM (SELECT s.id AS feature_id,"
            " s.n::smallint AS end_no, ST_X(s.g) AS x, ST_Y(s.g) AS y"
            f" FROM ({select} WHERE {where}) s(id, n, g)) e"
        ),
        params,
    ).rowcount
    if not count:
        return 0
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE topo_pts ON COMMIT DROP AS SELECT pt, min(x) AS x,"
            " min(y) AS y, ST_SetSRID(ST_MakePoint(min(x), min(y)), 4326) AS geom,"
            f" NULL::bigint AS node, false AS fresh FROM {ENDS} GROUP BY pt"
        )
    )
    # Fresh temporary tables have no statistics: without them the planner guesses.
    session.execute(text(f"ANALYZE {ENDS}"))
    session.execute(text(f"ANALYZE {PTS}"))
    return count


# A position in metres for clustering: a local equirectangular projection (a longitude degree is
# cos(latitude) of a latitude degree); exact enough within a tolerance, and arithmetic only.
METRIC_POINT = "ST_MakePoint({x} * cos(radians({y})) * 111320.0, {y} * 111320.0)"


def _snap_ends(session: Session, layer: LayerDef) -> None:
    """Give each distinct end position a node: an existing node within tolerance, else a new one.

    Digitised networks share vertices exactly, so the work is per distinct position (a quarter
    of the ends on a grid). The positions and the utility's existing nodes within the batch's
    extent are clustered together (DBSCAN, the layer's tolerance, in metres): a cluster holding
    an existing node joins it (the lowest id if several), any other cluster becomes a new node.
    One pass for the batch, instead of an index look-up per end."""
    tol = layer.snap_tolerance_m
    params = {"u": layer.utility, "tol": tol, "deg": tol / M_PER_DEG}
    metric = METRIC_POINT.format(x="x", y="y")
    # Existing nodes near the batch (one index scan over its extent, widened by the tolerance)
    # join the clustering as members that already have an id.
    session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_cl ON COMMIT DROP AS SELECT pt, node, x, y,"
            f" ST_ClusterDBSCAN({metric}, eps := :tol, minpoints := 1) OVER () AS cid"
            f" FROM (SELECT pt, NULL::bigint AS node, x, y FROM {PTS}"
            " UNION ALL SELECT NULL, n.id, ST_X(n.geom), ST_Y(n.geom) FROM network_nodes n"
            " WHERE n.utility_code = :u AND n.geom && (SELECT"
            f" ST_Expand(ST_SetSRID(ST_Extent(geom), 4326), :deg * 2.5) FROM {PTS})) u"
        ),
        params,
    )
    session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_new ON COMMIT DROP AS SELECT cid, min(node) AS node,"
            " bool_or(node IS NOT NULL) AS existing, avg(x) AS x, avg(y) AS y"
            " FROM pg_temp.topo_cl GROUP BY cid"
        )
    )
    session.execute(
        text(
            "UPDATE topo_new SET node = nextval(pg_get_serial_sequence('network_nodes', 'id'))"
            " WHERE node IS NULL"
        )
    )
    session.execute(text("ANALYZE pg_temp.topo_cl"))
    session.execute(text("ANALYZE pg_temp.topo_new"))
    session.execute(
        text(
            "INSERT INTO network_nodes (id, utility_code, geom)"
            " SELECT node, :u, ST_SetSRID(ST_MakePoint(x, y), 4326) FROM topo_new"
            # In space order: the spatial index then grows page by page, not at random.
            " WHERE NOT existing ORDER BY ST_GeoHash(ST_SetSRID(ST_MakePoint(x, y), 4326), 10)"
        ),
        params,
    )
    session.execute(
        text(
            f"UPDATE {PTS} p SET node = t.node, fresh = NOT t.existing FROM pg_temp.topo_cl c"
            " JOIN topo_new t ON t.cid = c.cid WHERE c.pt = p.pt"
        )
    )
    session.execute(text("DROP TABLE topo_new"))
    session.execute(text("DROP TABLE pg_temp.topo_cl"))


def _link(session: Session, layer: LayerDef) -> int:
    """Insert the links of the staged features (a line's two ends, a point's one)."""
    role = _role_sql(layer)
    return session.execute(
        text(
            "INSERT INTO network_links (feature_id, utility_code, layer_id, role, node_a, node_b,"
            f" length_m, closed, operable) SELECT f.id, :u, :l, {role}, e.a, e.b,"
            " CASE WHEN e.b IS NULL THEN 0 ELSE ST_Length(f.geom::geography, false) END,"
            " coalesce(f.attributes->>'state' = 'closed', false),"
            " coalesce((f.attributes->>'operable')::boolean, true)"
            " FROM (SELECT e.feature_id, min(p.node) FILTER (WHERE e.end_no = 0) AS a,"
            "  min(p.node) FILTER (WHERE e.end_no = 1) AS b"
            f"  FROM {ENDS} e JOIN {PTS} p ON p.pt = e.pt GROUP BY e.feature_id) e"
            " JOIN network_features f ON f.id = e.feature_id"
        ),
        {"u": layer.utility, "l": layer.id},
    ).rowcount


def link_features(
    session: Session,
    registry: LayerRegistry | None,
    layer: LayerDef,
    where: str,
    params: dict,
    near_consumers: bool = True,
) -> int:
    """(Re)link the features of `layer` chosen by the SQL condition `where` (on alias f); with
    near_consumers, then the consumers near the lines linked (a rebuild links them all last)."""
    if layer.supply_distance_m is not None:
        return link_consumers(session, registry, layer, where, params)
    if layer.snap_tolerance_m is None:
        return 0
    params = {**params, "layer": layer.id}
    where = f"f.layer_id = :layer AND ({where})"
    old_nodes = _drop_links(session, where, params)
    if not _stage_ends(session, layer, where, params):
        _drop_orphans(session, old_nodes)
        return 0
    _snap_ends(session, layer)
    count = _link(session, layer)
    lines = [la for la in topology_layers(registry or _app_registry() or (), layer.utility)]
    join_middles(
        session,
        layer.utility,
        [la.id for la in lines if la.geometry == "LINESTRING"] or _own_lines(layer),
        max([la.snap_tolerance_m for la in lines] or [layer.snap_tolerance_m]),
        old_nodes,
        layer.geometry == "LINESTRING",
    )
    _drop_orphans(session, old_nodes)
    if near_consumers and layer.geometry == "LINESTRING":
        _relink_consumers_near(session, registry, layer)
    session.execute(text(f"DROP TABLE IF EXISTS {ENDS}"))
    session.execute(text(f"DROP TABLE IF EXISTS {PTS}"))
    return count


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
                " FROM network_features c WHERE c.layer_id = :l AND c.geom && (SELECT"
                f" ST_Expand(ST_SetSRID(ST_Extent(geom), 4326), :d) FROM {PTS})"
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
        counts[layer.id] = link_features(session, registry, layer, "true", {}, False)
    for layer in registry:
        if layer.supply_distance_m is not None:
            counts[layer.id] = link_consumers(session, registry, layer, "true", {})
    return counts
