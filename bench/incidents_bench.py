"""Benchmark of the responsible-operator look-up and of incident creation (issue 5).

Builds (once) a separate database, gis_app_bench_incidents on the same server as the app's
database, migrated, with the demo data and copies of the demo networks shifted across the oblast
up to 1,000,000 network features. Then measures, on look-up points next to random features:

  1. the look-up's SQL statements alone, then find_responsible in-process (no HTTP);
  2. GET /api/responsible through gunicorn (2 workers × 4 threads, as `make run`), one client
     (latency) and four clients (throughput);
  3. incidents created per second, in-process and by POST /api/incidents.

    .venv/bin/python bench/incidents_bench.py [--features 1000000] [--lookups 2000] [--rebuild]

It never touches the app's own database; results go to bench/results-incidents.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis_app import config, migrate  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

BENCH_DB = "gis_app_bench_incidents"


def bench_url() -> str:
    """The bench database's URL: the app's server, another database (never the app's own)."""
    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    url = base.set(database=BENCH_DB)
    assert url.database != base.database
    return url.render_as_string(hide_password=False)


def build(url: str, target: int, rebuild: bool) -> int:
    """Create, migrate and fill the bench database; the number of network features."""
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": BENCH_DB}
        ).scalar()
        if exists and rebuild:
            conn.execute(text(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)'))
        if not exists or rebuild:
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    migrate.upgrade(url.replace("postgresql+psycopg2://", "postgresql://"))
    engine = create_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM network_features")).scalar_one()
    if have >= target:
        engine.dispose()
        return have
    from gis_app.demo.load import load_demo

    started = time.monotonic()
    with Session(engine) as session, session.begin():
        load_demo(session, LayerRegistry.from_dir(ROOT / "layers"))
        n = session.execute(text("SELECT count(*) FROM network_features")).scalar_one()
        copies = math.ceil((target - n) / n)
        # Copies of the four towns' networks on a grid of shifts (~14 km × 13 km) over the oblast.
        session.execute(
            text(
                """
                INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,
                    name, attributes, geom)
                SELECT f.layer_id, f.utility_code, f.operator_id, f.external_id || '-B' || c,
                       f.name, f.attributes,
                       ST_Translate(f.geom, ((c % 10) - 5) * 0.25, ((c / 10) - 4) * 0.12 + 0.06)
                FROM generate_series(1, :copies) c CROSS JOIN network_features f
                WHERE f.is_demo
                ORDER BY c, f.id
                LIMIT :extra
                """
            ),
            {"copies": copies, "extra": target - n},
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        have = conn.execute(text("SELECT count(*) FROM network_features")).scalar_one()
    print(f"built {have} features in {time.monotonic() - started:.0f} s", flush=True)
    engine.dispose()
    return have


def sample_points(
    url: str, n: int, where: str = "true", percent: float = 1.0
) -> list[tuple[str, float, float]]:
    """(utility, lon, lat) next to random features (within ~15 m), fixed seed."""
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        rows = conn.execute(
            text(
                "SELECT utility_code, ST_X(p), ST_Y(p) FROM (SELECT utility_code,"
                " CASE WHEN GeometryType(geom) = 'POINT' THEN geom"
                " ELSE ST_LineInterpolatePoint(geom, random()) END AS p"
                f" FROM network_features TABLESAMPLE BERNOULLI ({percent}) REPEATABLE (42) WHERE {where}) s"
                " ORDER BY random() LIMIT :n"
            ),
            {"n": n},
        ).all()
    engine.dispose()
    rng = random.Random(42)
    return [
        (u, x + rng.uniform(-0.0002, 0.0002), y + rng.uniform(-0.0001, 0.0001)) for u, x, y in rows
    ]


def summary(latencies_ms: list[float], wall_s: float) -> dict:
    """Count, rate, p50 and p99 (ms)."""
    ordered = sorted(latencies_ms)
    return {
        "n": len(ordered),
        "per_s": round(len(ordered) / wall_s, 1),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def in_process(url: str, points: list) -> dict:
    """find_responsible called directly: the SQL and the ranking, no HTTP."""
    from gis_app.operators.responsible import find_responsible

    registry = LayerRegistry.from_dir(ROOT / "layers")
    engine = create_engine(url)
    with Session(engine) as session:
        for u, x, y in points[:200]:  # warm-up
            find_responsible(session, registry, u, x, y)
        lat, rules = [], {}
        started = time.perf_counter()
        for u, x, y in points:
            t = time.perf_counter()
            found = find_responsible(session, registry, u, x, y)
            lat.append((time.perf_counter() - t) * 1000)
            rules[found.rule] = rules.get(found.rule, 0) + 1
        result = summary(lat, time.perf_counter() - started) | {"rules": rules}
    engine.dispose()
    return result


def sql_only(url: str, points: list) -> dict:
    """The statements of a look-up (features, areas, municipalities, designations), nothing else."""
    from gis_app.geometry import metres_per_degree
    from gis_app.operators.responsible import _AREAS_SQL, _DESIGNATED_SQL, _FEATURES_SQL
    from gis_app.places.chain import COVERING_SQL

    layers = LayerRegistry.from_dir(ROOT / "layers")
    engine = create_engine(url)
    lat_ms = []
    with engine.connect() as conn:
        started = None
        for n, (u, x, y) in enumerate(points[:200] + points):
            if n == 200:  # after the warm-up
                started, lat_ms = time.perf_counter(), []
            mine = layers.for_utility(u)
            t = time.perf_counter()
            conn.execute(
                _FEATURES_SQL,
                {
                    "lon": x,
                    "lat": y,
                    "utility": u,
                    "layers": [m.id for m in mine],
                    "dists": [m.search_distance_m * 1.01 for m in mine],
                    "m_lon": metres_per_degree(y)[0],
                    "m_lat": metres_per_degree(y)[1],
                    "per_layer": 8,
                },
            ).all()
            conn.execute(_AREAS_SQL, {"utility": u, "lon": x, "lat": y}).all()
            ids = [r.id for r in conn.execute(COVERING_SQL, {"lon": x, "lat": y})]
            conn.execute(_DESIGNATED_SQL, {"utility": u, "ids": ids}).all()
            lat_ms.append((time.perf_counter() - t) * 1000)
        result = summary(lat_ms, time.perf_counter() - started)
    engine.dispose()
    return result


def make_token(url: str, username: str) -> str:
    from gis_app.accounts.users import create_token

    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        token = create_token(session, username, "bench")
    engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url.replace("postgresql+psycopg2://", "postgresql://")}
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def http_lookups(port: int, token: str, points: list, clients: int) -> dict:
    """GET /api/responsible with `clients` keep-alive connections in parallel."""
    lat: list[float] = []
    lock = threading.Lock()
    chunks = [points[i::clients] for i in range(clients)]

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for u, x, y in chunk:
            t = time.perf_counter()
            conn.request(
                "GET",
                "/api/responsible?" + urlencode({"lon": x, "lat": y, "utility": u}),
                headers={"Authorization": f"Bearer {token}"},
            )
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            mine.append((time.perf_counter() - t) * 1000)
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return summary(lat, time.perf_counter() - started) | {"clients": clients}


def http_creates(port: int, token: str, points: list) -> dict:
    """POST /api/incidents one after another."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat, statuses = [], {}
    started = time.perf_counter()
    for u, x, y in points:
        body = json.dumps({"lon": x, "lat": y, "utility": u, "description": "бенчмарк"})
        t = time.perf_counter()
        conn.request(
            "POST",
            "/api/incidents",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
        lat.append((time.perf_counter() - t) * 1000)
        status = json.loads(data).get("status") if response.status == 201 else response.status
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    conn.close()
    return summary(lat, time.perf_counter() - started) | {"outcomes": statuses}


def main() -> None:
    """Build if needed, measure, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    url = bench_url()
    features = build(url, args.features, args.rebuild)
    lookups = sample_points(url, args.lookups)
    # Incidents need a municipality: the demo towns' own networks (copies may fall outside).
    creates = sample_points(url, args.creates, "is_demo", 10.0)
    results = {"network_features": features, "cpus": os.cpu_count()}
    results["sql_only"] = sql_only(url, lookups)
    print("sql only:", results["sql_only"], flush=True)
    results["in_process"] = in_process(url, lookups)
    print("in-process:", results["in_process"], flush=True)
    port = free_port()
    server = start_server(url, port)
    try:
        token = make_token(url, "admin")
        http_lookups(port, token, lookups[:200], 1)  # warm-up of both workers
        results["http_1_client"] = http_lookups(port, token, lookups, 1)
        print("http, 1 client:", results["http_1_client"], flush=True)
        results["http_4_clients"] = http_lookups(port, token, lookups, 4)
        print("http, 4 clients:", results["http_4_clients"], flush=True)
        # Incidents of earlier runs would turn these into duplicates: start from the demo ones.
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM incidents WHERE NOT is_demo"))
        engine.dispose()
        results["http_create"] = http_creates(port, make_token(url, "dispatcher-oblast"), creates)
        print("http, create:", results["http_create"], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    out = ROOT / "bench" / "results-incidents.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
