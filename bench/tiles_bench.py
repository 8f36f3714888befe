"""Tile benchmark (issue 17, item 4): a 7x7 block of z14 tiles (and z12, z10) of road_segments
around Gatchina, one client on a kept-alive connection, side by side:

- floor: a plain serial ST_AsMVT statement over the same rows and columns, run by psycopg2 on one
  open connection (no HTTP, no revision look-up, no token check): what the database must do;
- http_floor: the same statement behind the least HTTP server (bench/tiles_http_floor.py: a bare
  WSGI function in gunicorn, 2 workers x 4 threads as ours): what any Python tile server pays;
- gis_app: /tiles/road_segments/z/x/y.mvt?v=<current> from gunicorn (2 workers, as `make run`);
- gis_app_before (with --before DIR): the same from another checkout of the project (e.g.
  `git archive main | tar -x -C var/base`), served the same way: before and after in one run;
- tipg: its /collections/public.bench_road_segments/tiles/WebMercatorQuad/z/x/y (uvicorn, 2 workers,
  installed from PyPI into bench/.venvs/tipg, never the project's venv).

It also times, on one pooled connection, the parts of a gis_app tile request inside the worker, to
show where the time goes. Run on the database of serving_generate.py:

    .venv/bin/python bench/tiles_bench.py [--database gis_app_bench] [--skip-peers] [--rounds 3]
        [--before var/base] [--port-base 5201]

Writes bench/results-tiles.json (or --out) and prints it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving_bench import PORTS, get, ours, stop, tipg  # noqa: E402
from bench.serving_generate import bench_url  # noqa: E402
from gis_app import config  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

LAYER = "road_segments"
CENTRE = (30.12, 59.57)  # Gatchina, inside the serving bench's Gatchina box
GRID = 7


def tile_block(z: int, grid: int = GRID) -> list[tuple[int, int, int]]:
    """The grid x grid tiles of zoom z around CENTRE."""
    lon, lat = CENTRE
    cx = int((lon + 180) / 360 * 2**z)
    cy = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    half = grid // 2
    return [(z, cx + dx, cy + dy) for dy in range(-half, half + 1) for dx in range(-half, half + 1)]


def stats(seconds: list[float], wall: float | None = None) -> dict:
    """tiles/s, p50 and p99 (ms)."""
    ordered = sorted(seconds)
    pct = lambda q: round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)  # noqa: E731
    wall = wall if wall is not None else sum(seconds)
    return {"tiles": len(ordered), "tiles_s": round(len(ordered) / wall, 1),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "mean_ms": round(1000 * statistics.mean(ordered), 2)}  # fmt: skip


PLAIN = """
    SELECT ST_AsMVT(t, 'road_segments', 4096, 'geom', 'id') FROM (
        SELECT f.id, ST_AsMVTGeom(ST_Transform(f.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                                  4096, 256, true) AS geom {columns}
        FROM network_features f {joins}
        WHERE f.layer_id = 'road_segments'
          AND f.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.05), 4326)
    ) t WHERE t.geom IS NOT NULL
"""


def plain_sql(z: int) -> str:
    """The plain statement of a zoom-z tile: the same rows and columns as our tile."""
    from gis_app.features.tiles import FULL_PROPERTIES_ZOOM

    if z >= FULL_PROPERTIES_ZOOM:
        columns = ", f.name, o.short_name AS operator, f.operator_id, f.external_id, f.attributes"
        joins = "JOIN operators o ON o.id = f.operator_id"
    else:
        by = LayerRegistry.from_dir(ROOT / "layers").get(LAYER).style["by"]["property"]
        columns = f", jsonb_build_object('{by}', f.attributes -> '{by}') AS attributes"
        joins = ""
    return PLAIN.format(columns=columns, joins=joins)


def plain_connection(url: str):
    """A psycopg2 connection as the floor uses it: autocommit, no JIT, no parallel workers."""
    import psycopg2

    conn = psycopg2.connect(config.sqlalchemy_url(url).replace("postgresql+psycopg2", "postgresql"))
    conn.autocommit = True
    conn.cursor().execute("SET jit = off; SET max_parallel_workers_per_gather = 0")
    return conn


def floor_runner(url: str, z: int):
    """A function (x, y) -> seconds, bytes running the plain serial statement, the same columns as
    our tile at zoom z, by psycopg2 on one open connection."""
    conn = plain_connection(url)
    cur = conn.cursor()
    sql = plain_sql(z)

    def run(x: int, y: int) -> tuple[float, int]:
        started = time.perf_counter()
        cur.execute(sql, {"z": z, "x": x, "y": y})
        data = cur.fetchone()[0]
        return time.perf_counter() - started, len(data or b"")

    run.backend_pid = conn.get_backend_pid()  # type: ignore[attr-defined]
    return run


def http_floor(url: str, out: Path, port: int):
    """The plain statement behind the least HTTP server: bench/tiles_http_floor.py in gunicorn
    with the worker settings of ours() (what any Python tile server pays on this machine)."""
    from bench.serving_bench import start, wait_port

    proc = start([str(ROOT / ".venv/bin/gunicorn"), "--chdir", str(ROOT), "--bind",
                  f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                  "bench.tiles_http_floor:app"], {"DATABASE_URL": url}, out / "http_floor.log")  # fmt: skip
    wait_port(port)
    return proc


def breakdown(url: str, token: str, tiles: list[tuple[int, int, int]]) -> dict:
    """The parts of a gis_app tile request inside the worker, timed on one pooled connection as
    the tile view uses it (connection-level settings, autocommit): checkout, the one statement
    (token check, revision and tile), the same tile statement alone, close (ms, mean)."""
    from gis_app.accounts.credentials import Credentials
    from gis_app.db import web_engine
    from gis_app.features.tiles import tile_answer, tile_mvt

    layer = LayerRegistry.from_dir(ROOT / "layers").get(LAYER)
    engine = web_engine(url)
    credentials = Credentials(token=token)
    parts: dict[str, list[float]] = {"checkout": [], "check+revision+tile": [], "tile alone": [],
                                     "close": []}  # fmt: skip
    for i in range(4):
        for z, x, y in tiles:
            t0 = time.perf_counter()
            session = Session(engine, info={"short_queries": True})
            session.connection().connection.dbapi_connection.autocommit = True  # as the app does
            t1 = time.perf_counter()
            # Each first in turn: the first statement after a pause pays for waking the backend.
            steps = [("check+revision+tile", tile_answer, (credentials,)),
                     ("tile alone", tile_mvt, ())]  # fmt: skip
            for key, step, extra in steps if i % 2 == 0 else steps[::-1]:
                started = time.perf_counter()
                step(session, layer, z, x, y, *extra)
                parts[key].append(time.perf_counter() - started)
            t2 = time.perf_counter()
            session.close()
            t3 = time.perf_counter()
            parts["checkout"].append(t1 - t0)
            parts["close"].append(t3 - t2)
    engine.dispose()
    return {k: round(1000 * statistics.mean(v), 2) for k, v in parts.items()}


def before(checkout: Path, url: str, token: str, out: Path, port: int):
    """gunicorn serving gis_app from another checkout (same venv, same settings as ours())."""
    from bench.serving_bench import start, wait_port

    proc = start([str(ROOT / ".venv/bin/gunicorn"), "--chdir", str(checkout), "--bind",
                  f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "wsgi:app"],
                 {"DATABASE_URL": url, "PYTHONPATH": str(checkout)}, out / "gis_app_before.log",
                 checkout)  # fmt: skip
    wait_port(port)
    return proc


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and all its descendants."""
    from bench.serving_bench import rss_tree

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in rss_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def side_by_side(
    url: str, z: int, servers: dict[str, tuple[str, dict, int | None]], rounds: int
) -> dict:
    """Each tile of the block at zoom z from the floor and from each server in turn (one client,
    kept-alive connections), `rounds` times: the machine's load weighs on all of them alike.
    servers: name -> (URL template with {z}/{x}/{y}, headers, pid of the server or None).
    Also the CPU time each server's processes spent per tile (barely swayed by other load)."""
    run_floor = floor_runner(url, z)
    block = tile_block(z)
    for _, x, y in block:  # warm-up: the rows in memory, connections open
        run_floor(x, y)
        for template, headers, _ in servers.values():
            get(template.format(z=z, x=x, y=y), headers)
    times: dict[str, list[float]] = {"floor": [], **{name: [] for name in servers}}
    cpu_before = {name: cpu_seconds(pid) for name, (_, _, pid) in servers.items() if pid}
    cpu_before["floor"] = cpu_seconds(run_floor.backend_pid)
    sizes = []
    names = list(servers)
    for _ in range(rounds):
        for i, (_, x, y) in enumerate(block):
            seconds, size = run_floor(x, y)
            times["floor"].append(seconds)
            sizes.append(size)
            # The servers in turn, each tile starting with the next one: none always follows the
            # floor (whose backend has just run) or always comes last.
            for name in names[i % len(names) :] + names[: i % len(names)]:
                template, headers, _ = servers[name]
                status, _, seconds = get(template.format(z=z, x=x, y=y), headers)
                assert status == 200, (name, status, z, x, y)
                times[name].append(seconds)
    result = {name: stats(values) for name, values in times.items()}
    # The floor's: its PostgreSQL backend's (the statement's own CPU); the servers': their own
    # processes' (not their backends').
    pids = {"floor": run_floor.backend_pid, **{n: pid for n, (_, _, pid) in servers.items()}}
    for name, pid in pids.items():
        if pid:
            used = cpu_seconds(pid) - cpu_before[name]
            result[name]["server_cpu_ms_per_tile"] = round(1000 * used / len(times[name]), 2)
    result["floor"]["mean_bytes"] = int(statistics.mean(sizes))
    # Ratios of the mean and of the median (p50: less swayed by the machine's other load).
    for name in servers:
        for base in ("floor", "http_floor"):
            if base in result and name != base:
                result[f"{name}_to_{base}"] = round(
                    result[name]["mean_ms"] / result[base]["mean_ms"], 2
                )
                result[f"{name}_to_{base}_p50"] = round(
                    result[name]["p50_ms"] / result[base]["p50_ms"], 2
                )
    return result


def main() -> None:
    """Run everything; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="gis_app_bench")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--zooms", default="14,12,10")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results-tiles.json")
    parser.add_argument("--before", type=Path, help="another checkout to serve beside this one")
    parser.add_argument("--port-base", type=int, default=PORTS["gis_app"],
                        help="first of four ports (gis_app, http_floor, tipg, gis_app_before)")  # fmt: skip
    args = parser.parse_args()
    PORTS.update(gis_app=args.port_base, tipg=args.port_base + 2)
    url = bench_url(args.database)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    zooms = [int(z) for z in args.zooms.split(",")]
    results: dict = {"database": args.database, "layer": LAYER, "grid": GRID, "rounds": args.rounds,
                     "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "load_average": Path("/proc/loadavg").read_text().split()[:3]}  # fmt: skip
    with create_engine(config.sqlalchemy_url(url)).connect() as conn:
        results["features"] = conn.execute(text("SELECT count(*) FROM network_features")).scalar()
        block = tile_block(14)
        (_, x0, y0), (_, x1, y1) = block[0], block[-1]
        results["layer_features_in_z14_block"] = conn.execute(
            text(
                "SELECT count(*) FROM network_features WHERE layer_id = :l AND geom && "
                "ST_Transform(ST_MakeEnvelope(ST_XMin(ST_TileEnvelope(14, :x0, :y0)),"
                " ST_YMin(ST_TileEnvelope(14, :x0, :y1)), ST_XMax(ST_TileEnvelope(14, :x1, :y0)),"
                " ST_YMax(ST_TileEnvelope(14, :x0, :y0)), 3857), 4326)"
            ),
            {"l": LAYER, "x0": x0, "y0": y0, "x1": x1, "y1": y1},
        ).scalar()
    servers: dict[str, tuple[str, dict, int | None]] = {}
    procs = []
    try:
        proc, headers = ours(url, out)
        procs.append(proc)
        token = headers["Authorization"].split()[1]
        results["gis_app_breakdown_z14_ms"] = breakdown(url, token, tile_block(14))
        print("breakdown", results["gis_app_breakdown_z14_ms"], flush=True)
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", PORTS["gis_app"])
        conn.request("GET", f"/tiles/{LAYER}.json", headers=headers)
        template = json.loads(conn.getresponse().read())["tiles"][0]
        conn.close()
        servers["gis_app"] = (template, headers, proc.pid)
        if args.before:
            port = args.port_base + 3
            procs.append(before(args.before.resolve(), url, token, out, port))
            servers["gis_app_before"] = (
                template.replace(f":{PORTS['gis_app']}/", f":{port}/"),
                headers,
                procs[-1].pid,
            )
        port = args.port_base + 1
        procs.append(http_floor(url, out, port))
        servers["http_floor"] = (f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}", {}, procs[-1].pid)
        if not args.skip_peers:
            procs.append(tipg(url, out))
            base = f"http://127.0.0.1:{PORTS['tipg']}/collections/public.bench_{LAYER}/tiles"
            servers["tipg"] = (base + "/WebMercatorQuad/{z}/{x}/{y}", {}, procs[-1].pid)
        for z in zooms:
            results[f"z{z}"] = side_by_side(url, z, servers, args.rounds)
            print(z, json.dumps(results[f"z{z}"]), flush=True)
    finally:
        for proc in procs:
            stop(proc)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
