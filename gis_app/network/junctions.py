"""T-junctions: a line end (or a point) that meets the MIDDLE of another line of its utility,
within tolerance, joins it. The node is moved onto the line at the nearest point and the line
is split, for the graph, into parts between its nodes (one network_links row per part; the
feature stays whole). All in SQL, in the caller's transaction, after a batch is linked.

Which lines are (re)split after a batch: those near a node the batch may have put on their
middle (a node the batch created, met by at most two of its ends: a branch end, a device off
the line ends; a node joined was probed when it was created), those near an existing node of the batch's extent that the batch did not use (a
main drawn across branches already there), and those that were split at a node the batch
left (a branch moved off the main: the main is joined back into one part). A grid's interior
nodes, met by four ends, are never probed, so an import pays for its dangling ends only.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# The staged batch of gis_app.network.topology: ends (feature_id, end_no, pt) and positions
# (pt, node, fresh: a node the batch created, geom).
ENDS = "pg_temp.topo_ends"
PTS = "pg_temp.topo_pts"
M_PER_DEG = 111_320.0
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
    session.execute(text("DROP TABLE IF EXISTS pg_temp.topo_split"))
    count = session.execute(
        text(
            "CREATE TEMPORARY TABLE topo_split ON COMMIT DROP AS"
            # Nodes the batch may have put on a line's middle, and nodes it did not use.
            " WITH probe AS (SELECT p.node FROM "
            f"{PTS} p JOIN {ENDS} e ON e.pt = p.pt WHERE p.fresh GROUP BY p.node"
            " HAVING count(*) <= 2"
            " UNION SELECT n.id FROM network_nodes n WHERE :lines AND n.utility_code = :u"
            f" AND n.geom && (SELECT ST_Expand(ST_SetSRID(ST_Extent(geom), 4326), :deg * 2.5)"
            # NOT EXISTS: an anti-join (NOT IN over 500,000 positions outgrew work_mem and was
            # rescanned for every node: minutes at 1M lines).
            f" FROM {PTS}) AND NOT EXISTS (SELECT 1 FROM {PTS} b WHERE b.node = n.id))"
            " SELECT DISTINCT f.id AS feature_id FROM probe JOIN network_nodes n ON n.id = probe.node"
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
