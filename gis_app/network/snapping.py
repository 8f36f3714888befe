"""One batch of a layer's features into the topology: their ends staged, snapped to nodes (the
existing ones within tolerance, else new ones) and linked. All in SQL, in the caller's
transaction; gis_app.network.topology says which features and runs the steps around these.

The batch lives in temporary tables: ENDS (feature_id, end_no, x, y, pt: the end's position
number), PTS (pt, x, y, ends: how many ends are there, node, fresh: a node the batch created,
nx, ny: the node's position) and IDLE (id, x, y: the
utility's existing nodes near the batch that it did not join), read by
gis_app.network.junctions and the consumers' relinking.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.layers import LayerDef

ENDS = "pg_temp.topo_ends"
PTS = "pg_temp.topo_pts"
IDLE = "pg_temp.topo_idle"
TABLES = (ENDS, PTS, IDLE, "pg_temp.topo_cl", "pg_temp.topo_new")
# Metres of one degree of latitude; a longitude degree is this times cos(latitude).
M_PER_DEG = 111_320.0
# The batch's extent from its positions, widened by {d} degrees (NULL for an empty batch).
BATCH_BOX = (
    f"(SELECT ST_Expand(ST_MakeEnvelope(min(x), min(y), max(x), max(y), 4326), {{d}}) FROM {PTS})"
)
# A position in metres for clustering: a local equirectangular projection (a longitude degree is
# cos(latitude) of a latitude degree); exact enough within a tolerance, and arithmetic only.
METRIC_POINT = "ST_MakePoint({x} * cos(radians({y})) * 111320.0, {y} * 111320.0)"


def role_sql(layer: LayerDef) -> str:
    """SQL giving a feature's role from its `kind` (the kinds come from a checked layer file)."""
    if layer.geometry == "LINESTRING":
        return "'line'"
    cases = []
    for role, kinds in (("source", layer.source_kinds), ("device", layer.device_kinds)):
        if kinds:
            quoted = ", ".join("'" + k.replace("'", "''") + "'" for k in kinds)
            cases.append(f"WHEN f.attributes->>'kind' IN ({quoted}) THEN '{role}'")
    return f"CASE {' '.join(cases)} ELSE 'point' END" if cases else "'point'"


def drop_tables(session: Session) -> None:
    """Drop the batch's temporary tables (they would go at commit anyway)."""
    for table in TABLES:
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))


def stage_ends(session: Session, layer: LayerDef, where: str, params: dict) -> int:
    """Stage the line ends (or points) of the chosen features in ENDS; the number of ends.

    Each distinct position gets a number (`pt`) so that ends, positions and clusters join on one
    integer column: a join on the two float columns x = x AND y = y is estimated at a few dozen
    rows (the planner multiplies the two selectivities), and on 100,000 lines the planner then
    nested-looped the ends over the ends (10^10 comparisons; the 1M rebuild never finished)."""
    drop_tables(session)
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
    if count:
        # Fresh temporary tables have no statistics: without them the planner guesses. Only
        # the join and grouping keys are needed.
        session.execute(text(f"ANALYZE {ENDS} (feature_id, pt)"))
    return count


def snap_ends(session: Session, layer: LayerDef, reach_m: float) -> None:
    """Give each distinct end position a node: an existing node within tolerance, else a new one.

    Digitised networks share vertices exactly, so the work is per distinct position (a quarter
    of the ends on a grid). The positions and the utility's existing nodes within the batch's
    extent are clustered together (DBSCAN, the layer's tolerance, in metres): a cluster holding
    an existing node joins it (the lowest id if several), any other cluster becomes a new node.
    One pass for the batch, instead of an index look-up per end. The existing nodes within
    `reach_m` (x 2.5) of the batch's extent that it does not use are kept in IDLE, for the
    T-junction probe; PTS gets each position's node."""
    tol = layer.snap_tolerance_m
    params = {"u": layer.utility, "tol": tol, "deg": tol / M_PER_DEG * 2.5,
              "reach": reach_m / M_PER_DEG * 2.5}  # fmt: skip
    metric = METRIC_POINT.format(x="x", y="y")
    box = (
        "(SELECT ST_Expand(ST_MakeEnvelope(min(x), min(y), max(x), max(y), 4326), {d})"
        f" FROM {ENDS})"
    )
    # The distinct positions (with how many ends meet there) and the existing nodes near the
    # batch (one index scan over its extent), clustered together; the nodes have an id.
    session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_cl ON COMMIT DROP AS SELECT pt, node, x, y, ends,"
            f" ST_ClusterDBSCAN({metric}, eps := :tol, minpoints := 1) OVER () AS cid FROM"
            f" (SELECT pt, NULL::bigint AS node, min(x) AS x, min(y) AS y, count(*) AS ends"
            f" FROM {ENDS} GROUP BY pt UNION ALL SELECT NULL, n.id, ST_X(n.geom), ST_Y(n.geom), 0"
            f" FROM network_nodes n WHERE n.utility_code = :u AND n.geom && {box.format(d=':deg')}) u"
        ),
        params,
    )
    # A cluster's node: its lowest existing one, else a new id (numbered in cluster order,
    # which follows the positions' order: the new nodes' key and index grow in space order).
    # The sequence is looked up once (per row, pg_get_serial_sequence cost 2 us a node).
    session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_new ON COMMIT DROP AS SELECT cid,"
            " coalesce(node, nextval((SELECT pg_get_serial_sequence('network_nodes', 'id')::regclass)))"
            " AS node,"
            " node IS NOT NULL AS existing, used, x, y FROM (SELECT cid, min(node) AS node,"
            " bool_or(pt IS NOT NULL) AS used, avg(x) AS x, avg(y) AS y FROM pg_temp.topo_cl"
            " GROUP BY cid ORDER BY cid) c"
        )
    )
    session.execute(
        text(
            "INSERT INTO network_nodes (id, utility_code, geom)"
            " SELECT node, :u, ST_SetSRID(ST_MakePoint(x, y), 4326) FROM topo_new"
            " WHERE NOT existing ORDER BY node"
        ),
        params,
    )
    session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_pts ON COMMIT DROP AS SELECT c.pt, c.x, c.y, c.ends,"
            " t.node, NOT t.existing AS fresh, t.x AS nx, t.y AS ny"
            " FROM pg_temp.topo_cl c JOIN topo_new t"
            " ON t.cid = c.cid WHERE c.pt IS NOT NULL"
        )
    )
    session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_idle ON COMMIT DROP AS SELECT c.node AS id, c.x, c.y"
            " FROM pg_temp.topo_cl c JOIN topo_new t ON t.cid = c.cid"
            " WHERE c.node IS NOT NULL AND (NOT t.used OR c.node <> t.node)"
        )
    )
    if reach_m > tol:  # and those farther than the clustering looked (none can be joined)
        session.execute(
            text(
                "INSERT INTO topo_idle SELECT n.id, ST_X(n.geom), ST_Y(n.geom) FROM network_nodes n"
                " WHERE n.utility_code = :u"
                f" AND n.geom && {box.format(d=':reach')}"
                f" AND NOT n.geom && {box.format(d=':deg')}"
            ),
            params,
        )
    session.execute(text(f"ANALYZE {PTS} (pt, node)"))
    session.execute(text("DROP TABLE topo_new"))
    session.execute(text("DROP TABLE pg_temp.topo_cl"))


def link(session: Session, layer: LayerDef) -> int:
    """Insert the links of the staged features (a line's two ends, a point's one)."""
    return session.execute(
        text(
            "INSERT INTO network_links (feature_id, utility_code, layer_id, role, node_a, node_b,"
            f" length_m, closed, operable) SELECT f.id, :u, :l, {role_sql(layer)}, e.a, e.b,"
            " CASE WHEN e.b IS NULL THEN 0 ELSE ST_Length(f.geom::geography, false) END,"
            " coalesce(f.attributes->>'state' = ANY(:cut), false),"
            " coalesce((f.attributes->>'operable')::boolean, true)"
            " FROM (SELECT e.feature_id, min(p.node) FILTER (WHERE e.end_no = 0) AS a,"
            "  min(p.node) FILTER (WHERE e.end_no = 1) AS b"
            f"  FROM {ENDS} e JOIN {PTS} p ON p.pt = e.pt GROUP BY e.feature_id) e"
            " JOIN network_features f ON f.id = e.feature_id"
        ),
        {"u": layer.utility, "l": layer.id, "cut": list(layer.device_cut_states)},
    ).rowcount
