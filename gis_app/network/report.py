"""What does not connect, for the utility to fix: dangling line ends, near-misses (nodes closer
than twice the tolerance that did not join), and points standing on no line."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.layers import LayerRegistry
from gis_app.network.topology import topology_layers

# Entries listed per kind of problem (the counts are always whole).
REPORT_LIMIT = 500


def connectivity_report(
    session: Session, registry: LayerRegistry, utility: str, limit: int = REPORT_LIMIT
) -> dict:
    """The connectivity problems of one utility's topology, with counts and the first `limit`."""
    layers = topology_layers(registry, utility)
    tolerance = max((layer.snap_tolerance_m or 0 for layer in layers), default=0)
    params = {"u": utility, "limit": limit, "near": 2 * tolerance}
    dangling = session.execute(
        text(
            "WITH ends AS (SELECT node_a AS node, feature_id, role FROM network_links"
            "  WHERE utility_code = :u UNION ALL SELECT node_b, feature_id, role"
            "  FROM network_links WHERE utility_code = :u AND node_b IS NOT NULL),"
            " lone AS (SELECT node, min(feature_id) AS feature_id FROM ends GROUP BY node"
            "  HAVING count(*) = 1 AND bool_and(role = 'line'))"
            " SELECT l.node, l.feature_id, ST_X(n.geom) AS lon, ST_Y(n.geom) AS lat,"
            " count(*) OVER () AS total FROM lone l JOIN network_nodes n ON n.id = l.node"
            " ORDER BY l.node LIMIT :limit"
        ),
        params,
    ).mappings()
    dangling = [dict(r) for r in dangling]
    near = session.execute(
        text(
            "SELECT a.id AS node_a, b.id AS node_b,"
            " round(ST_Distance(a.geom::geography, b.geom::geography)::numeric, 2)::float"
            " AS distance_m, count(*) OVER () AS total"
            " FROM network_nodes a JOIN network_nodes b ON b.utility_code = a.utility_code"
            " AND a.id < b.id AND b.geom && ST_Expand(a.geom, :near / 111320.0 * 2.5)"
            " AND ST_DWithin(a.geom::geography, b.geom::geography, :near)"
            " WHERE a.utility_code = :u ORDER BY 3, 1 LIMIT :limit"
        ),
        params,
    ).mappings()
    near = [dict(r) for r in near]
    lonely = session.execute(
        text(
            "SELECT p.feature_id, p.layer_id, p.role, count(*) OVER () AS total"
            " FROM network_links p WHERE p.utility_code = :u AND p.node_b IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM network_links l WHERE l.node_b IS NOT NULL"
            "  AND (l.node_a = p.node_a OR l.node_b = p.node_a))"
            " ORDER BY p.feature_id LIMIT :limit"
        ),
        params,
    ).mappings()
    lonely = [dict(r) for r in lonely]

    def pack(rows: list[dict]) -> dict:
        total = rows[0]["total"] if rows else 0
        return {
            "count": total,
            "items": [{k: v for k, v in r.items() if k != "total"} for r in rows],
        }

    return {
        "utility": utility,
        "snap_tolerance_m": tolerance,
        "dangling_ends": pack(dangling),
        "near_misses": pack(near),
        "points_off_network": pack(lonely),
    }
