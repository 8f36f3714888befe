"""Which engine walks the network: the service's own (gis_app.network.graph: links read per
breadth-first level, or around the failure in one query), one recursive SQL query in PostGIS, and
pgRouting (pgr_breadthFirstSearch, pgr_connectedComponents), on the demo networks.

    .venv/bin/python bench/topology_engines.py [--repeat 20]

Needs the demo data in the app's database (`gis-app demo load`) and, for the pgRouting columns,
the extension (Debian postgresql-15-pgrouting; `CREATE EXTENSION pgrouting`, done here if it is
installed). Each engine answers the same question: the features connected to a start feature
(the first step of every trace); the answers are checked to agree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gis_app import config  # noqa: E402
from gis_app.network.graph import Graph  # noqa: E402
from gis_app.network.queries import start_link  # noqa: E402
from gis_app.network.traces import connected  # noqa: E402

RECURSIVE = """
WITH RECURSIVE walk(node) AS (
    SELECT unnest(CAST(:starts AS bigint[]))
  UNION
    SELECT CASE WHEN l.node_a = w.node THEN l.node_b ELSE l.node_a END
    FROM walk w JOIN network_links l ON (l.node_a = w.node OR l.node_b = w.node)
    WHERE l.node_b IS NOT NULL
)
SELECT count(DISTINCT l.feature_id) FROM network_links l
WHERE l.node_a IN (SELECT node FROM walk) OR l.node_b IN (SELECT node FROM walk)
"""
EDGES = (
    "SELECT feature_id AS id, node_a AS source, node_b AS target, 1.0 AS cost,"
    " 1.0 AS reverse_cost FROM network_links WHERE utility_code = ''{u}'' AND node_b IS NOT NULL"
)
PGR_BFS = f"""
SELECT count(DISTINCT l.feature_id) FROM network_links l WHERE l.node_a IN (
  SELECT node FROM pgr_breadthFirstSearch('{EDGES}', CAST(:starts AS bigint[]), directed => false))
  OR l.node_b IN (
  SELECT node FROM pgr_breadthFirstSearch('{EDGES}', CAST(:starts AS bigint[]), directed => false))
"""
PGR_CC = f"""
WITH cc AS (SELECT * FROM pgr_connectedComponents('{EDGES}')),
     mine AS (SELECT component FROM cc WHERE node = :start)
SELECT count(DISTINCT l.feature_id) FROM network_links l
WHERE l.node_a IN (SELECT node FROM cc WHERE component = (SELECT component FROM mine))
"""


def timed(fn, repeat: int) -> tuple[float, object]:
    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def measure(session: Session, utility: str, fid: int, repeat: int, has_pgr: bool) -> list:
    """The features connected to `fid` and the median ms, per engine."""
    _, start = start_link(session, fid)
    starts = [start.a, start.b]
    ours_t, ours = timed(lambda: len(connected(Graph(session, utility), start).roles), repeat)
    rec_t, rec = timed(
        lambda: session.execute(text(RECURSIVE), {"starts": starts}).scalar_one(), repeat
    )
    row = [utility, ours, ours_t, rec, rec_t]
    if has_pgr:
        bfs_sql = text(PGR_BFS.replace("{u}", utility))
        bfs_t, bfs = timed(
            lambda: session.execute(bfs_sql, {"starts": starts}).scalar_one(), repeat
        )
        cc_sql = text(PGR_CC.replace("{u}", utility))
        cc_t, cc = timed(
            lambda: session.execute(cc_sql, {"start": start.a}).scalar_one(), max(3, repeat // 5)
        )
        row += [bfs, bfs_t, cc, cc_t]
    return row


def main() -> None:
    """Time each engine on one main of each demo utility; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    engine = create_engine(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    rows = []
    with Session(engine) as session:
        has_pgr = session.execute(
            text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgrouting'")
        ).scalar_one()
        if has_pgr:
            session.execute(text("CREATE EXTENSION IF NOT EXISTS pgrouting"))
            session.commit()
        for layer, utility in (("water_mains", "water"), ("gas_pipelines", "gas"),
                               ("power_lines", "electricity")):  # fmt: skip
            fid = session.execute(
                text(
                    "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
                    " WHERE f.layer_id = :l AND f.external_id LIKE 'GAT-%' ORDER BY f.id LIMIT 1"
                ),
                {"l": layer},
            ).scalar_one()
            rows.append(measure(session, utility, fid, args.repeat, has_pgr))
    engine.dispose()
    print("\nconnected features from one Gatchina main, median of runs (ms):\n")
    head = "| utility | ours: features | ours ms | recursive SQL: features | ms |"
    if len(rows[0]) > 5:
        head += " pgr_BFS: features | ms | pgr_connectedComponents: features | ms |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        cells = [r[0]] + [f"{v * 1000:.1f}" if isinstance(v, float) else str(v) for v in r[1:]]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
