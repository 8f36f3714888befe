"""T-junctions: a line end (or a point) that meets the MIDDLE of another line of its utility,
within tolerance, joins it. The node is moved onto the line at the nearest point and the line
is split, for the graph, into parts between its nodes (one network_links row per part; the
feature stays whole). All in SQL, in the caller's transaction, after a batch is linked.

Which lines are (re)split after a batch: those near a node the batch may have put on their
middle (a node met by at most two ends, all of the batch: a branch end, a device off the line
ends; a node joined by more was probed when it was created), those near an existing node of
the batch's extent that the batch did not use (a main drawn across branches already there), and those that were split at a node the batch
left (a branch moved off the main: the main is joined back into one part). A grid's interior
nodes, met by four ends, are never probed, so an import pays for its dangling ends only.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.network.snapping import IDLE, M_PER_DEG, PTS

# A node on a line's middle: any node of the utility within tolerance of the line but not one
# of its ends, used by some other feature (a node only the line itself still uses is a T the
# branch has left).
MIDDLE_NODES = (
    "SELECT n.id, n.geom FROM network_nodes n WHERE n.utility_code = {u}"
    " AND n.geom && ST_Expand({g}, :deg * 2.5) AND n.id NOT IN ({a}, {b})"
    " AND ST_DWithin({g}::geography, n.geom::geography, :tol)"
    " AND (EXISTS (SELECT 1 FROM network_links k WHERE k.node_a = n.id AND k.feature_id <> {f})"
    " OR EXISTS (SELECT 1 FROM network_links k WHERE k.node_b = n.id AND k.feature_id <> {f}))"
)


def join_middles(
    session: Session,
    utility: str,
    line_layers: list[str],
    tol: float,
    old_nodes: list[int],
    lines_batch: bool,
) -> int:
    """Split the lines of `utility` that the staged batch touches in their middle; the number
    of lines (re)split. Only a batch of lines probes the nodes it did not use."""
    if not line_layers:
        return 0
    params = {"u": utility, "layers": line_layers, "tol": tol, "deg": tol / M_PER_DEG,
              "old": old_nodes, "lines": lines_batch}  # fmt: skip
    for table in ("pg_temp.topo_probe", "pg_temp.topo_split"):
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    # Nodes the batch may have put on a line's middle, and nodes it did not use (found by the
    # clustering), with their positions: a table of their own, so that the planner knows how
    # few they are (in one statement with the lines' search, the nodes' stale statistics once
    # made it scan every node of the utility against the lines: 20 s on the grid).
    probes = session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_probe ON COMMIT DROP AS SELECT node AS id,"
            " ST_SetSRID(ST_MakePoint(x, y), 4326) AS geom FROM (SELECT p.node, min(p.nx) AS x,"
            f" min(p.ny) AS y FROM {PTS} p GROUP BY p.node HAVING sum(p.ends) <= 2"
            # A node joined (not created) is probed if only these ends meet there: a branch
            # relinked with the main on whose middle it ends (the main's parts were dropped).
            " AND (bool_or(p.fresh) OR (SELECT count(*) FROM network_links k"
            " WHERE k.node_a = p.node) + (SELECT count(*) FROM network_links k"
            " WHERE k.node_b = p.node) <= 2)"
            f" UNION SELECT i.id, i.x, i.y FROM {IDLE} i WHERE :lines) p"
        ),
        params,
    ).rowcount
    if not probes and not old_nodes:
        session.execute(text("DROP TABLE pg_temp.topo_probe"))
        return 0
    session.execute(text("ANALYZE pg_temp.topo_probe (id)"))
    count = session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_split ON COMMIT DROP AS"
            " SELECT DISTINCT f.id AS feature_id FROM pg_temp.topo_probe n"
            " JOIN network_features f ON f.layer_id = ANY(:layers)"
            " AND f.geom && ST_Expand(n.geom, :deg * 2.5)"
            " AND ST_DWithin(f.geom::geography, n.geom::geography, :tol)"
            " WHERE EXISTS (SELECT 1 FROM network_links k WHERE k.feature_id = f.id"
            " AND k.role = 'line') AND NOT EXISTS (SELECT 1 FROM network_links k"
            " WHERE k.feature_id = f.id AND n.id IN (k.node_a, k.node_b))"
            # Lines split at a node the batch used before: maybe a T it has left.
            " UNION SELECT feature_id FROM network_links WHERE part > 0 AND node_a = ANY(:old)"
        ),
        params,
    ).rowcount
    if count:
        _split(session, params)
    session.execute(text("DROP TABLE pg_temp.topo_split"))
    session.execute(text("DROP TABLE pg_temp.topo_probe"))
    return count


def _split(session: Session, params: dict) -> None:
    """Relink each line of topo_split as parts between its ends and the nodes on its middle
    (ordered along it); the middle nodes are moved onto the line."""
    middle = MIDDLE_NODES.format(u=":u", g="l.g", a="l.a", b="l.b", f="l.feature_id")
    session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_stops ON COMMIT DROP AS"
            " WITH line AS (SELECT s.feature_id, min(k.layer_id) AS layer_id,"
            "  (array_agg(k.node_a ORDER BY k.part))[1] AS a,"
            "  (array_agg(k.node_b ORDER BY k.part DESC))[1] AS b,"
            "  bool_or(k.closed) AS closed, bool_and(k.operable) AS operable"
            "  FROM pg_temp.topo_split s JOIN network_links k ON k.feature_id = s.feature_id"
            "  WHERE k.role = 'line' GROUP BY s.feature_id),"
            " geo AS (SELECT line.*, ST_GeometryN(f.geom, 1) AS g FROM line"
            "  JOIN network_features f ON f.id = line.feature_id"
            "  WHERE ST_NumGeometries(f.geom) = 1 AND line.b IS NOT NULL)"
            " SELECT l.*, m.id AS node, ST_LineLocatePoint(l.g, m.geom) AS frac"
            f" FROM geo l CROSS JOIN LATERAL ({middle}) m"
            " UNION ALL SELECT l.*, l.a, 0 FROM geo l UNION ALL SELECT l.*, l.b, 1 FROM geo l"
        ),
        params,
    )
    # A node on the line's middle lies on the line (its nearest point); one at an end's
    # position (fraction 0 or 1 but not the end's node) stays where it is and is not a stop.
    session.execute(
        text(
            "UPDATE network_nodes n SET geom = ST_ClosestPoint(s.g, n.geom)"
            " FROM pg_temp.topo_stops s WHERE s.node = n.id AND s.node NOT IN (s.a, s.b)"
            " AND s.frac > 0 AND s.frac < 1"
        )
    )
    session.execute(
        text(
            "DELETE FROM network_links k USING pg_temp.topo_split s"
            " WHERE k.feature_id = s.feature_id AND k.role = 'line'"
            " AND EXISTS (SELECT 1 FROM pg_temp.topo_stops t WHERE t.feature_id = s.feature_id)"
        )
    )
    session.execute(
        text(
            "INSERT INTO network_links (feature_id, part, utility_code, layer_id, role, node_a,"
            " node_b, length_m, closed, operable)"
            " SELECT feature_id, row_number() OVER w - 1, :u, layer_id, 'line', node, nb,"
            " ST_Length(ST_LineSubstring(g, frac, fb)::geography, false), closed, operable"
            " FROM (SELECT *, lead(node) OVER w AS nb, lead(frac) OVER w AS fb"
            "  FROM pg_temp.topo_stops t WHERE node IN (a, b) OR (frac > 0 AND frac < 1)"
            "  WINDOW w AS (PARTITION BY feature_id ORDER BY frac, node <> a, node)) s"
            " WHERE nb IS NOT NULL WINDOW w AS (PARTITION BY feature_id ORDER BY frac)"
        ),
        params,
    )
    session.execute(text("DROP TABLE pg_temp.topo_stops"))
