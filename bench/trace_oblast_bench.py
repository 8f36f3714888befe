"""Traces on an oblast-size power utility of about 1,000,000 features (bench/oblast_power_network):
isolation and downstream from random 10 kV lines of the towns, and the oblast-wide `connected`
trace of the 110 kV backbone (plus its downstream and isolation), through HTTP, side by side with
the plain-SQL floor; a span next to a town's 10 kV busbar (its isolation cuts off the whole town)
is a case of its own.

    GIS_APP_LOCAL_PG_PORT=... .venv/bin/python bench/trace_oblast_bench.py [--requests 100]
        [--database gis_app_bench_oblast_power] [--keep] [--app-dir DIR] [--before DIR]

--before DIR (e.g. a `git archive main` unpacked there) serves that code beside this one: every
trace is asked of both, one right after the other (the same load for both), their answers'
features are checked to be the same, and a before → after table closes the report.

The database (on the server of DATABASE_URL or var/database_url; never the app's own) is
re-created, migrated, loaded with the demo data (users, municipalities, operators) and the
generated network (--keep: reuse it as it is). The app runs under gunicorn (1 worker, 1 thread);
one client with a kept-alive connection and a dispatcher's bearer token asks each trace once
after a warm-up. A second floor adds to the read the answer's features written as a plain
FeatureCollection (json_build_object) in one statement: what a trace with a large answer cannot
do without. The floor is one statement run directly on a kept connection (with the app's
settings: no JIT): the graph read the trace makes first (gis_app.network.graph.READ_SQL: the
recursive walk from the start, not passing closed devices nor sources, and the links at its nodes)
and, for `connected`, the walk and the answer's FeatureCollection built in one statement. pgRouting's
pgr_connectedComponents over the utility's links is timed once beside it when installed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import oblast_power_network  # noqa: E402
from serving_generate import _drop_secondary_indexes, recreate  # noqa: E402

from gis_app import config, migrate  # noqa: E402
from gis_app.accounts.users import create_token  # noqa: E402
from gis_app.db import SHORT_QUERIES  # noqa: E402
from gis_app.demo.load import load_demo  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402
from gis_app.network.graph import COMPONENT_SQL, READ_FIRST_NODES, READ_SQL  # noqa: E402

# The connected features and their GeoJSON (the same properties as the service's) in one.
CONNECTED_FLOOR = (
    COMPONENT_SQL
    + """, ids AS (SELECT l.feature_id FROM walk w JOIN network_links l ON l.node_a = w.node
    WHERE l.node_b IS NULL OR l.node_b IN (SELECT node FROM walk))
SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object(
  'type', 'Feature', 'id', f.id, 'geometry', ST_AsGeoJSON(f.geom, 6)::json,
  'properties', jsonb_build_object('layer', f.layer_id, 'utility', f.utility_code,
  'name', f.name, 'operator_id', f.operator_id, 'external_id', f.external_id,
  'trace', 'connected') || f.attributes) ORDER BY f.id))::text
FROM ids JOIN network_features f ON f.id = ids.feature_id"""
)
READ_FLOOR = READ_SQL  # the graph read of an isolation or downstream trace
# The answer's features (their ids from the trace) as a FeatureCollection in one plain statement:
# with the graph read, the floor of a trace whose answer is large (a busbar fault: a whole town).
ANSWER_FLOOR = """SELECT json_build_object('type', 'FeatureCollection', 'features',
  json_agg(json_build_object('type', 'Feature', 'id', f.id,
  'geometry', ST_AsGeoJSON(f.geom, 6)::json, 'properties', jsonb_build_object('layer', f.layer_id,
  'utility', f.utility_code, 'name', f.name, 'operator_id', f.operator_id,
  'external_id', f.external_id) || f.attributes) ORDER BY f.id))::text
FROM network_features f WHERE f.id = ANY(CAST(%(ids)s AS bigint[]))"""
PGR_CC = """SELECT count(*) FROM pgr_connectedComponents('SELECT feature_id AS id, node_a AS source,
  node_b AS target, 1.0 AS cost, 1.0 AS reverse_cost FROM network_links
  WHERE utility_code = ''electricity'' AND node_b IS NOT NULL AND NOT closed')"""


def generate(url: str) -> None:
    """Re-create the database with the demo data and the generated network."""
    recreate(url)
    migrate.upgrade(url)
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        load_demo(session, LayerRegistry.from_dir(ROOT / "layers"))
    with engine.connect() as conn:
        bases = conn.execute(text(
            "SELECT (SELECT max(id) + 1 FROM network_features), (SELECT max(id) + 1 FROM"
            " network_nodes), (SELECT operator_id FROM network_features WHERE layer_id ="
            " 'power_lines' ORDER BY id LIMIT 1), (SELECT operator_id FROM network_features"
            " WHERE layer_id = 'consumers' ORDER BY id LIMIT 1)"
        )).one()  # fmt: skip
    started = time.monotonic()
    net = oblast_power_network.build(*bases)
    print(
        f"generated {len(net.features)} features in {time.monotonic() - started:.0f} s", flush=True
    )
    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        rebuild = []
        for table in ("network_features", "network_nodes", "network_links", "consumer_supplies"):
            rebuild += _drop_secondary_indexes(conn, table)
        oblast_power_network.write(conn.connection.dbapi_connection, net)
        for statement in rebuild:
            conn.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("network_features", "network_nodes", "network_links", "consumer_supplies"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    print(f"loaded in {time.monotonic() - started:.0f} s", flush=True)
    engine.dispose()


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def gunicorn(url: str, app_dir: Path = ROOT):
    """gunicorn (1 worker, 1 thread) on the bench database, the app's code from `app_dir`;
    (process, port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "1", "--timeout", "120", "wsgi:app"],
        cwd=app_dir, env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(app_dir)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def main() -> None:
    """Generate (unless --keep), then time the traces over HTTP and the floor; print tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database", default="gis_app_bench_oblast_power")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--app-dir", type=Path, default=ROOT,
        help="serve the app's code from this checkout (e.g. `git archive` of an older commit),"
        " to compare before and after on the same data",
    )  # fmt: skip
    parser.add_argument(
        "--before", type=Path,
        help="a second checkout (e.g. `git archive main`) served beside --app-dir: each trace"
        " is asked of both, one after the other, and the tables compare them",
    )  # fmt: skip
    args = parser.parse_args()
    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    if args.database == base.database:
        sys.exit(f"refusing to use the app's own database {base.database}")
    url = base.set(database=args.database).render_as_string(hide_password=False)
    if not args.keep:
        generate(url)
    # The floor's connection has the app's settings for requests (no JIT, no parallel workers).
    engine = create_engine(config.sqlalchemy_url(url), connect_args=SHORT_QUERIES)
    with Session(engine) as session, session.begin():
        token = create_token(session, "dispatcher-oblast", "trace bench")
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM network_features")).scalar_one()
        town = list(conn.execute(text(
            "SELECT feature_id FROM network_links WHERE layer_id = 'power_lines'"
            " AND feature_id IN (SELECT id FROM network_features WHERE external_id ~ '^OBL-[0-9]')"
            " ORDER BY feature_id"
        )).scalars())  # fmt: skip
        # The first span of each feeder, from the 10 kV busbar: its isolation cuts the town off.
        busbar = list(conn.execute(text(
            "SELECT id FROM network_features WHERE external_id ~ '^OBL-[0-9]+-F[0-9]-M1$'"
            " AND layer_id = 'power_lines' ORDER BY id"
        )).scalars())  # fmt: skip
        backbone = list(conn.execute(text(
            # The backbone's spans (OBL-110-<town>-<town>-<span>), not town 110's 10 kV lines.
            "SELECT id FROM network_features WHERE external_id ~ '^OBL-110-[0-9]+-[0-9]+-[0-9]+$'"
            " AND layer_id = 'power_lines' ORDER BY id"
        )).scalars())  # fmt: skip
        has_pgr = conn.execute(
            text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgrouting'")
        ).scalar_one()
    rng = random.Random(16)
    n = args.requests
    cases = [
        ("town 10 kV line: isolation", "isolation", rng.sample(town, n)),
        ("town 10 kV line: downstream", "downstream", rng.sample(town, n)),
        ("town 10 kV span at the busbar: isolation (the town cut off)", "isolation",
         rng.sample(busbar, max(10, n // 2))),
        ("town 10 kV span at the busbar: downstream", "downstream",
         rng.sample(busbar, max(10, n // 2))),
        ("110 kV line: connected (the oblast-wide grid)", "connected", rng.sample(backbone, 20)),
        ("110 kV line: downstream", "downstream", rng.sample(backbone, n // 2)),
        ("110 kV line: isolation", "isolation", rng.sample(backbone, n // 2)),
    ]  # fmt: skip
    raw = engine.raw_connection()
    cur = raw.cursor()
    floors = {}
    for name, kind, ids in cases:
        times = []
        for fid in ids:
            cur.execute("SELECT node_a, node_b FROM network_links WHERE feature_id = %s", (fid,))
            a, b = cur.fetchone()
            sql = CONNECTED_FLOOR if kind == "connected" else READ_FLOOR
            started = time.perf_counter()
            sql = sql.replace(":through_sources", "%(through)s").replace(":starts", "%(starts)s")
            sql = sql.replace(":max_nodes", str(READ_FIRST_NODES)).replace(":known", "'{}'")
            cur.execute(sql.replace(":start", "%(start)s"),
                        {"starts": [a, b], "start": 0 if kind == "connected" else fid,
                         "through": kind == "connected"})  # fmt: skip
            cur.fetchall()
            times.append(time.perf_counter() - started)
        floors[name] = times
    pgr = None
    if has_pgr:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
        started = time.perf_counter()
        cur.execute(PGR_CC)
        pgr = time.perf_counter() - started
    raw.commit()
    raw.close()
    apps = {"after": args.app_dir} if args.before is None else {
        "before": args.before, "after": args.app_dir}  # fmt: skip
    servers = {label: gunicorn(url, app_dir) for label, app_dir in apps.items()}
    results: dict[str, list] = {label: [] for label in apps}
    try:
        conns = {label: http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                 for label, (_, port) in servers.items()}  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}

        def get(label: str, fid: int, kind: str) -> tuple[float, dict]:
            conn = conns[label]
            started = time.perf_counter()
            conn.request("GET", f"/api/features/{fid}/trace?type={kind}", headers=headers)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, body[:300]
            return time.perf_counter() - started, json.loads(body)

        for fid in town[:20]:  # warm-up: the worker's imports, the first plans
            for label in apps:
                get(label, fid, "isolation")
        answered: dict[str, list[list[int]]] = {}
        for name, kind, ids in cases:
            measured = {label: ([], [], []) for label in apps}
            answered[name] = []
            for fid in ids:
                answers = {}
                for label in apps:  # the same trace of each app, one right after the other
                    elapsed, body = get(label, fid, kind)
                    times, sizes, queries = measured[label]
                    times.append(elapsed)
                    sizes.append(len(body["features"]))
                    queries.append(body["trace"].get("queries", 0))
                    answers[label] = sorted(f["id"] for f in body["features"])
                if len(answers) == 2:
                    assert answers["before"] == answers["after"], (name, fid)
                answered[name].append(answers["after"])
            for label, (times, sizes, queries) in measured.items():
                results[label].append((name, len(ids), times, floors[name],
                                       statistics.median(sizes), max(queries)))  # fmt: skip
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    # The floor with the answer: the graph read (above) plus the answer's FeatureCollection.
    raw = engine.raw_connection()
    cur = raw.cursor()
    full_floors = {}
    for name, kind, _ in cases:
        if kind == "connected":
            full_floors[name] = floors[name]
            continue
        full_floors[name] = []
        for read, feature_ids in zip(floors[name], answered[name], strict=True):
            started = time.perf_counter()
            cur.execute(ANSWER_FLOOR, {"ids": "{" + ",".join(map(str, feature_ids)) + "}"})
            cur.fetchall()
            full_floors[name].append(read + time.perf_counter() - started)
    raw.close()
    print(f"\n{total} features ({len(town)} town 10 kV lines, {len(backbone)} 110 kV spans);"
          f" load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for label, rows in results.items():
        print(f"\n{label} ({apps[label]}):")
        print(
            "\n| trace | requests | HTTP p50 ms | HTTP p99 ms | floor p50 ms | floor p99 ms"
            " | ratio p50 | ratio p99 | floor with the answer p50 / p99 ms | ratio p99"
            " | features answered (median) | graph reads (max) |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, count, times, floor, size, reads in rows:
            h50, h99 = statistics.median(times) * 1000, percentile(times, 99) * 1000
            f50, f99 = statistics.median(floor) * 1000, percentile(floor, 99) * 1000
            full = full_floors[name]
            a50, a99 = statistics.median(full) * 1000, percentile(full, 99) * 1000
            print(f"| {name} | {count} | {h50:.0f} | {h99:.0f} | {f50:.1f} | {f99:.1f}"
                  f" | {h50 / f50:.1f} | {h99 / f99:.1f} | {a50:.1f} / {a99:.1f} | {h99 / a99:.1f}"
                  f" | {size:.0f} | {reads} |")  # fmt: skip
    if len(results) == 2:
        print("\n| trace | before p50 / p99 ms | after p50 / p99 ms | p99 after/before |")
        print("|---|---:|---:|---:|")
        for old, new in zip(results["before"], results["after"], strict=True):
            o50, o99 = statistics.median(old[2]) * 1000, percentile(old[2], 99) * 1000
            a50, a99 = statistics.median(new[2]) * 1000, percentile(new[2], 99) * 1000
            print(f"| {old[0]} | {o50:.0f} / {o99:.0f} | {a50:.0f} / {a99:.0f} | {a99 / o99:.2f} |")
    if pgr is not None:
        print(f"\npgr_connectedComponents over the utility's links (once): {pgr * 1000:.0f} ms")


if __name__ == "__main__":
    main()
