"""Trace benchmark: a generated grid water network (default 200,000 mains, 100 m apart, with
intakes and gate valves), imported with and without the topology upkeep, then traces over HTTP.

    .venv/bin/python bench/trace_bench.py [--features 200000] [--requests 60]
        [--database gis_app_bench_trace] [--skip-connected] [--rounds 1] [--imports-only]
    .venv/bin/python bench/trace_bench.py --keep [--requests 60] [--app-dir DIR] [--before DIR]

The grid is deterministic (--features 1000000: a 708x708 grid, 1,000,000 mains); the database
is left with it and its topology (for other benchmarks of the traces).

1. Import upkeep: the same GeoPackage imported by `run_import` (mode replace, every check) with
   the upkeep call replaced by a no-op, then (after deleting those features) as shipped; the
   ratio is the upkeep's cost (target at most 1.5x); --rounds N repeats the pair N times (the
   medians and each round's ratio are printed, with the load average: the machine may be
   shared). A re-import of the unchanged file follows, then intakes and valves are added and
   the water topology is rebuilt from scratch (timed); --imports-only stops before.
2. Traces: the app served by a process of its own; isolation and downstream traces from random
   mains, timed from the client over HTTP (p50, p99); then a `connected` trace over the whole
   grid (the oblast-wide case: every feature of the network in one answer).
3. --keep: only the traces (isolation, downstream) on the grid an earlier run left, under
   gunicorn beside the floor (the first graph read); --before DIR serves a second checkout too,
   each trace asked of both in turn (answers checked equal).
The database (on the cluster of DATABASE_URL or var/database_url) is dropped and re-created,
migrated and loaded with the demo data; never the app's own database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from import_bench import OPERATOR, prepare_database  # noqa: E402

from gis_app import config  # noqa: E402
from gis_app.accounts.users import create_token  # noqa: E402
from gis_app.imports import ImportRequest, run_import  # noqa: E402
from gis_app.imports import service as import_service  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402
from gis_app.network import topology  # noqa: E402

REGISTRY = LayerRegistry.from_dir(config.PROJECT_ROOT / "layers")
LON0, LAT0, STEP_M = 31.0, 59.6, 100.0  # a 32 km square inside the oblast, off the demo towns
SOURCE_EVERY, VALVE_EVERY = 40, 3  # grid nodes (valves: every third row and column)


def grid(n: int) -> tuple[int, np.ndarray]:
    """The side k of a k×k grid with at least n segments, and the node coordinates (k, k, 2)."""
    k = 2
    while 2 * k * (k - 1) < n:
        k += 1
    kx = 111_320.0 * np.cos(np.radians(LAT0))
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    coords = np.stack([LON0 + i * STEP_M / kx, LAT0 + j * STEP_M / 111_320.0], axis=-1)
    return k, np.round(coords, 7)


def make_gpkg(path: Path, n: int) -> int:
    """n grid segments (east and north of each node) as water mains; the grid side."""
    k, c = grid(n)
    starts, ends = [], []
    for i in range(k):
        for j in range(k):
            if i + 1 < k:
                starts.append(c[i, j])
                ends.append(c[i + 1, j])
            if j + 1 < k:
                starts.append(c[i, j])
                ends.append(c[i, j + 1])
    starts, ends = np.array(starts[:n]), np.array(ends[:n])
    geoms = shapely.linestrings(np.stack([starts, ends], axis=1))
    frame = gpd.GeoDataFrame(
        {
            "external_id": [f"GRID-{i:07d}" for i in range(n)],
            "diameter_mm": np.full(n, 150),
            "material": np.full(n, "polyethylene"),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    frame.to_file(path, driver="GPKG", layer="water_mains")
    return k


def import_once(url: str, path: Path, with_upkeep: bool) -> tuple[float, dict]:
    """Seconds and report of one import of the file, with or without the topology upkeep."""
    engine = create_engine(config.sqlalchemy_url(url))
    original = import_service.topology.upkeep_import
    if not with_upkeep:
        import_service.topology.upkeep_import = lambda *a, **k: 0
    try:
        with Session(engine) as session:
            operator_id = session.execute(
                text("SELECT id FROM operators WHERE slug = :s"), {"s": OPERATOR}
            ).scalar_one()
            req = ImportRequest(layer=REGISTRY.get("water_mains"), operator_id=operator_id,
                                path=path, mode="replace", file_name=path.name,
                                username="bench")  # fmt: skip
            started = time.perf_counter()
            report = run_import(session, req)
            elapsed = time.perf_counter() - started
    finally:
        import_service.topology.upkeep_import = original
        engine.dispose()
    return elapsed, report


def forget_grid(url: str) -> None:
    """Delete the imported grid (its links go by cascade) and its nodes, then VACUUM ANALYZE."""
    engine = create_engine(config.sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM network_features WHERE external_id LIKE 'GRID-%'"))
        conn.execute(
            text(
                "DELETE FROM network_nodes n WHERE NOT EXISTS (SELECT 1 FROM network_links l"
                " WHERE n.id IN (l.node_a, l.node_b))"
            )
        )
        conn.execute(text("VACUUM ANALYZE network_features"))
        conn.execute(text("VACUUM ANALYZE network_nodes"))
        conn.execute(text("VACUUM ANALYZE network_links"))
    engine.dispose()


def checkpoint(url: str) -> None:
    """Write out what earlier steps left dirty, so a timed import does not pay for it (each
    import writes some 0.5 GB of WAL: a checkpoint falling inside one run made it seconds
    slower). Needs a superuser or pg_checkpoint; skipped without."""
    engine = create_engine(config.sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
    except Exception as exc:  # noqa: BLE001 - a benchmark's courtesy, not its subject
        print(f"(no checkpoint: {exc.__class__.__name__})", flush=True)
    engine.dispose()


def add_sources_and_valves(url: str, k: int) -> tuple[int, int]:
    """Intakes every SOURCE_EVERY nodes and gate valves every VALVE_EVERY, linked."""
    _, c = grid(2 * k * (k - 1))
    engine = create_engine(config.sqlalchemy_url(url))
    counts = []
    with Session(engine) as session, session.begin():
        operator_id = session.execute(
            text("SELECT id FROM operators WHERE slug = :s"), {"s": OPERATOR}
        ).scalar_one()
        for layer_id, every, attributes in (
            ("water_facilities", SOURCE_EVERY, {"kind": "intake"}),
            (
                "water_valves",
                VALVE_EVERY,
                {"kind": "gate_valve", "state": "open", "operable": True},
            ),
        ):
            # Intakes on a lattice; valves on every node of each third row and column, so
            # that every 2x2 block of the grid can be shut off.
            rows = [
                (f"GRID-{layer_id}-{i}-{j}", c[i, j][0], c[i, j][1])
                for i in range(k)
                for j in range(k)
                if (layer_id == "water_facilities" and i % every == every // 2 == j % every)
                or (layer_id == "water_valves" and (i % every == 1 or j % every == 1))
            ]
            ids = session.execute(
                text(
                    "INSERT INTO network_features (layer_id, utility_code, operator_id,"
                    " external_id, attributes, geom) SELECT :l, 'water', :o, e, CAST(:a AS jsonb),"
                    " ST_SetSRID(ST_MakePoint(x, y), 4326) FROM unnest(CAST(:e AS text[]),"
                    " CAST(:x AS float8[]), CAST(:y AS float8[])) AS r(e, x, y) RETURNING id"
                ),
                {
                    "l": layer_id,
                    "o": operator_id,
                    "a": json.dumps(attributes),
                    "e": [r[0] for r in rows],
                    "x": [float(r[1]) for r in rows],
                    "y": [float(r[2]) for r in rows],
                },
            ).scalars()
            ids = list(ids)
            topology.upkeep(session, REGISTRY, REGISTRY.get(layer_id), ids)
            counts.append(len(ids))
    engine.dispose()
    return counts[0], counts[1]


def time_rebuild(url: str) -> float:
    """Seconds of a full rebuild of the water topology (the mains, intakes, valves, consumers),
    committed: the database is left with the topology for the traces."""
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        started = time.perf_counter()
        topology.rebuild(session, REGISTRY, "water")
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def timed_get(url: str, token: str) -> tuple[float, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        body = response.read()
    elapsed = time.perf_counter() - started
    return elapsed, json.loads(body)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    """Generate, import with and without upkeep, trace over HTTP; print the figures."""
    from helpers import app_process

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--database", default="gis_app_bench_trace")
    parser.add_argument("--skip-connected", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="imports without/with the upkeep")
    parser.add_argument("--imports-only", action="store_true", help="no rebuild, no traces")
    parser.add_argument(
        "--keep", action="store_true",
        help="reuse the database of an earlier run as it is: only the traces, over HTTP",
    )  # fmt: skip
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the code to serve (--keep)")
    parser.add_argument(
        "--before", type=Path,
        help="with --keep: a second checkout (e.g. `git archive main`) served beside --app-dir,"
        " each trace asked of both in turn",
    )  # fmt: skip
    parser.add_argument(
        "--existing",
        help="an existing database (e.g. gis_app_bench of bench/serving_generate.py, 1,000,000"
        " features): rebuild its topology, then trace its water mains and 110 kV lines",
    )
    args = parser.parse_args()
    if args.existing:
        return on_existing(args)
    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    if args.database == base.database:
        sys.exit(f"refusing to use the app's own database {base.database}")
    url = base.set(database=args.database).render_as_string(hide_password=False)
    if args.keep:
        return traces_only(url, args)
    n = args.features
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "grid_water_mains.gpkg"
        k = make_gpkg(path, n)
        print(f"generated a {k}x{k} grid: {n} mains", flush=True)
        prepare_database(url)
        print(f"database {args.database} migrated, demo data loaded", flush=True)
        rounds = []
        for r in range(args.rounds):
            if r:
                forget_grid(url)
            checkpoint(url)
            without, report = import_once(url, path, with_upkeep=False)
            assert report["added"] == n, report
            forget_grid(url)
            checkpoint(url)
            with_upkeep, report = import_once(url, path, with_upkeep=True)
            assert report["added"] == n, report
            load = os.getloadavg()[0]
            rounds.append((without, with_upkeep, load))
            print(f"round {r + 1}: import without upkeep {without:.1f} s, with upkeep"
                  f" {with_upkeep:.1f} s: {with_upkeep / without:.2f}x (load {load:.1f})",
                  flush=True)  # fmt: skip
        without = statistics.median(r[0] for r in rounds)
        with_upkeep = statistics.median(r[1] for r in rounds)
        again, report = import_once(url, path, with_upkeep=True)
        print(f"re-import, unchanged, with upkeep: {again:.1f} s", flush=True)
    if args.imports_only:
        print_imports(n, rounds, without, with_upkeep, again)
        return
    sources, valves = add_sources_and_valves(url, k)
    rebuilt = time_rebuild(url)
    print(f"full rebuild of the water topology: {rebuilt:.1f} s", flush=True)
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        token = create_token(session, "admin", "trace bench")
    with engine.connect() as conn:
        mains = list(
            conn.execute(
                text("SELECT id FROM network_features WHERE external_id LIKE 'GRID-0%'")
            ).scalars()
        )
        links = conn.execute(text("SELECT count(*) FROM network_links")).scalar_one()
    engine.dispose()
    rng = random.Random(16)
    rows = []
    with app_process(url) as server:
        for trace_type in ("isolation", "downstream"):
            times, sizes = [], []
            for fid in rng.sample(mains, args.requests):
                elapsed, body = timed_get(
                    f"{server}/api/features/{fid}/trace?type={trace_type}", token
                )
                times.append(elapsed)
                sizes.append(len(body["features"]))
            rows.append((trace_type, args.requests, statistics.median(times), percentile(times, 99),
                         statistics.median(sizes)))  # fmt: skip
        if not args.skip_connected:
            elapsed, body = timed_get(
                f"{server}/api/features/{mains[0]}/trace?type=connected", token
            )
            rows.append(("connected (the whole grid)", 1, elapsed, elapsed, len(body["features"])))
    print(f"\nnetwork: {n} mains, {sources} intakes, {valves} gate valves; {links} topology links")
    print_imports(n, rounds, without, with_upkeep, again)
    print(f"\nfull rebuild (`gis-app network rebuild --utility water`): {rebuilt:.1f} s")
    print("\n| trace over HTTP | requests | p50 ms | p99 ms | features answered (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, count, p50, p99, size in rows:
        print(f"| {name} | {count} | {p50 * 1000:.0f} | {p99 * 1000:.0f} | {size:.0f} |")


def print_imports(n: int, rounds: list, without: float, with_upkeep: float, again: float) -> None:
    """The imports' table (medians of the rounds) and each round's ratio."""
    print(f"\n| import of the grid, {n} mains (mode replace) | seconds | ratio |\n|---|---:|---:|")
    print(f"| without the topology upkeep | {without:.1f} | 1.00 |")
    print(f"| with the topology upkeep | {with_upkeep:.1f} | {with_upkeep / without:.2f} |")
    print(f"| the same file again, unchanged | {again:.1f} | {again / without:.2f} |")
    if len(rounds) > 1:
        print("\nrounds (without s, with s, ratio, load): " + "; ".join(
            f"{a:.1f}, {b:.1f}, {b / a:.2f}, {load:.1f}" for a, b, load in rounds))  # fmt: skip


def traces_only(url: str, args) -> None:
    """Isolation and downstream traces from random mains of the grid left by an earlier run,
    over HTTP (gunicorn, 1 worker, 1 thread, a kept-alive connection), beside the floor (the
    first graph read, plain SQL); with --before, the same traces of a second checkout in turn."""
    import http.client

    from trace_oblast_bench import gunicorn

    from gis_app.db import SHORT_QUERIES
    from gis_app.network.graph import READ_FIRST_NODES, READ_SQL

    engine = create_engine(config.sqlalchemy_url(url), connect_args=SHORT_QUERIES)
    with Session(engine) as session, session.begin():
        token = create_token(session, "admin", "trace bench")
    with engine.connect() as conn:
        mains = list(conn.execute(text(
            "SELECT id FROM network_features WHERE external_id LIKE 'GRID-0%' ORDER BY id"
        )).scalars())  # fmt: skip
        links = conn.execute(text("SELECT count(*) FROM network_links")).scalar_one()
    rng = random.Random(16)
    cases = [(kind, rng.sample(mains, args.requests)) for kind in ("isolation", "downstream")]
    raw = engine.raw_connection()
    cur = raw.cursor()
    floors = {}
    for kind, ids in cases:
        floors[kind] = []
        for fid in ids:
            cur.execute("SELECT node_a, node_b FROM network_links WHERE feature_id = %s", (fid,))
            a, b = cur.fetchone()
            sql = READ_SQL.replace(":through_sources", "false").replace(":starts", "%(starts)s")
            sql = sql.replace(":max_nodes", str(READ_FIRST_NODES)).replace(":known", "'{}'")
            started = time.perf_counter()
            cur.execute(sql.replace(":start", "%(start)s"), {"starts": [a, b], "start": fid})
            cur.fetchall()
            floors[kind].append(time.perf_counter() - started)
    raw.close()
    engine.dispose()
    apps = {"after": args.app_dir} if args.before is None else {
        "before": args.before, "after": args.app_dir}  # fmt: skip
    servers = {label: gunicorn(url, app_dir) for label, app_dir in apps.items()}
    measured = {(label, kind): ([], []) for label in apps for kind, _ in cases}
    try:
        conns = {label: http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                 for label, (_, port) in servers.items()}  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}

        def get(label: str, fid: int, kind: str) -> tuple[float, dict]:
            started = time.perf_counter()
            conns[label].request("GET", f"/api/features/{fid}/trace?type={kind}", headers=headers)
            response = conns[label].getresponse()
            body = response.read()
            assert response.status == 200, body[:300]
            return time.perf_counter() - started, json.loads(body)

        for fid in mains[:10]:  # warm-up
            for label in apps:
                get(label, fid, "isolation")
        for kind, ids in cases:
            for fid in ids:
                answers = {}
                for label in apps:
                    elapsed, body = get(label, fid, kind)
                    measured[label, kind][0].append(elapsed)
                    measured[label, kind][1].append(len(body["features"]))
                    answers[label] = sorted(f["id"] for f in body["features"])
                if len(answers) == 2:
                    assert answers["before"] == answers["after"], (kind, fid)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    print(f"\n{len(mains)} mains, {links} topology links; load average {os.getloadavg()[0]:.1f}")
    print("\n| code | trace over HTTP | requests | p50 ms | p99 ms | floor p50 ms | floor p99 ms"
          " | ratio p99 | features answered (median) |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (label, kind), (times, sizes) in measured.items():
        p50, p99 = statistics.median(times) * 1000, percentile(times, 99) * 1000
        f50, f99 = statistics.median(floors[kind]) * 1000, percentile(floors[kind], 99) * 1000
        print(f"| {label} | {kind} | {len(times)} | {p50:.0f} | {p99:.0f} | {f50:.1f} | {f99:.1f}"
              f" | {p99 / f99:.1f} | {statistics.median(sizes):.0f} |")  # fmt: skip


def on_existing(args) -> None:
    """Rebuild the topology of an existing database (timed), then traces over HTTP: isolation
    and downstream from random water mains, downstream and connected from 110 kV lines."""
    from helpers import app_process

    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    if args.existing == base.database:
        sys.exit(f"refusing to use the app's own database {base.database}")
    url = base.set(database=args.existing).render_as_string(hide_password=False)
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        features = session.execute(text("SELECT count(*) FROM network_features")).scalar_one()
        started = time.perf_counter()
        counts = topology.rebuild(session, REGISTRY)
        rebuilt = time.perf_counter() - started
        token = create_token(session, "admin", "trace bench")
    print(f"{features} features; topology rebuilt in {rebuilt:.1f} s: {sum(counts.values())} links")
    with engine.connect() as conn:
        mains = list(
            conn.execute(
                text("SELECT l.feature_id FROM network_links l WHERE l.layer_id = 'water_mains'")
            ).scalars()
        )
        grid = list(conn.execute(text(
            "SELECT l.feature_id FROM network_links l JOIN network_features f ON f.id = l.feature_id"
            " WHERE l.layer_id = 'power_lines' AND (f.attributes->>'voltage_kv')::float >= 110"
        )).scalars())  # fmt: skip
    engine.dispose()
    rng = random.Random(16)
    rows = []
    with app_process(url) as server:
        for name, pool, trace_type, count in (
            ("water main: isolation", mains, "isolation", args.requests),
            ("water main: downstream", mains, "downstream", args.requests),
            ("110 kV line: downstream (with the cascade)", grid, "downstream", args.requests),
            ("110 kV line: connected", grid, "connected", max(5, args.requests // 4)),
        ):
            times, sizes = [], []
            for fid in rng.sample(pool, min(count, len(pool))):
                elapsed, body = timed_get(
                    f"{server}/api/features/{fid}/trace?type={trace_type}", token
                )
                times.append(elapsed)
                sizes.append(len(body["features"]))
            rows.append((name, len(times), statistics.median(times), percentile(times, 99),
                         statistics.median(sizes)))  # fmt: skip
    print(f"\n{features} features, topology rebuild {rebuilt:.1f} s")
    print("\n| trace over HTTP | requests | p50 ms | p99 ms | features answered (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, count, p50, p99, size in rows:
        print(f"| {name} | {count} | {p50 * 1000:.0f} | {p99 * 1000:.0f} | {size:.0f} |")


if __name__ == "__main__":
    main()
