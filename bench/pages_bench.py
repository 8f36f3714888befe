"""Big pages beside their floor (issue 17, item 4): bbox pages of 1,000 and 10,000 road segments
from /ogc/collections/road_segments/items (gunicorn, 2 workers, one client, kept-alive
connection) against the plain SQL of the same page, request by request in turn, so the load of a
shared machine weighs on both alike. On the database of serving_generate.py:

    .venv/bin/python bench/pages_bench.py [--database gis_app_bench] [--rounds 5]
        [--before <git commit>]     # also serve that commit's app, in turn with the two others
        [--port-base 5201]          # gis_app there, the other commit's app at port-base + 3

The floor is written out below, not taken from the app: one statement that a person who knows
PostGIS would write for the page (the page's ids by the box, then their rows joined to the
operator, GeoJSON made by ST_AsGeoJSON and json_build_object, the same properties), run by
psycopg2 on one open connection and fetched whole (no HTTP, no cursor). Before timing, every box's
page from the floor and from the app are compared feature by feature: the same ids, geometries
and properties, or the run stops. The ratio is given twice: mean over mean, and the median of
each request over the floor's run just before it (steadier on a shared machine). Writes
bench/results-pages.json (results-pages-<database>.json for
another database) and prints it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving_bench import BOXES, LAYER, PORTS, get, ours, start, stop, wait_port  # noqa: E402
from bench.serving_generate import bench_url  # noqa: E402
from bench.tiles_bench import stats  # noqa: E402
from gis_app import config  # noqa: E402

BEFORE_PORT = 5204

FLOOR_SQL = """
SELECT f.id, json_build_object('type', 'Feature', 'id', f.id,
    'geometry', ST_AsGeoJSON(f.geom, 6)::json,
    'properties', jsonb_build_object('layer', f.layer_id, 'utility', f.utility_code,
        'name', f.name, 'operator_id', f.operator_id, 'operator', o.short_name,
        'external_id', f.external_id, 'updated_at', f.updated_at, 'updated_by', f.updated_by)
        || f.attributes)::text
FROM (SELECT id FROM network_features
      WHERE layer_id = %(layer)s
        AND ST_Intersects(geom, ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326))
      ORDER BY id LIMIT %(limit)s) page
JOIN network_features f ON f.id = page.id
JOIN operators o ON o.id = f.operator_id
ORDER BY f.id
"""


def items_url(port: int, box: tuple, limit: int) -> str:
    """The OGC items URL of a bbox page."""
    bbox = ",".join(map(str, box))
    return f"http://127.0.0.1:{port}/ogc/collections/{LAYER}/items?bbox={bbox}&limit={limit}"


def floor_page(cur, box: tuple, limit: int) -> list[tuple[int, str]]:
    """The page from the plain statement: (id, Feature JSON text) rows."""
    w, s, e, n = box
    cur.execute(FLOOR_SQL, {"layer": LAYER, "w": w, "s": s, "e": e, "n": n, "limit": limit})
    return cur.fetchall()


def same_features(rows: list[tuple[int, str]], url: str, headers: dict) -> None:
    """Stop unless the app's page holds exactly the floor's features (ids, geometry, properties)."""
    status, body = fetch(url, headers)
    assert status == 200, (status, url)
    served = json.loads(body)["features"]
    assert [f["id"] for f in served] == [r[0] for r in rows], url
    for mine, theirs in zip(served, rows, strict=True):
        assert mine == json.loads(theirs[1]), (url, mine["id"])


def fetch(url: str, headers: dict) -> tuple[int, bytes]:
    """GET url on a new connection; status and body."""
    import urllib.request

    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.status, response.read()


def serve_commit(commit: str, url: str, out: Path, folder: Path) -> subprocess.Popen:
    """gunicorn serving the app as it was at `commit` (its files from git, this .venv)."""
    subprocess.run(f"git -C {ROOT} archive {commit} | tar -x -C {folder}", shell=True, check=True)
    proc = start([str(ROOT / ".venv/bin/gunicorn"), "--chdir", str(folder), "--bind",
                  f"127.0.0.1:{BEFORE_PORT}", "--workers", "2", "--threads", "4", "wsgi:app"],
                 {"DATABASE_URL": url, "PYTHONPATH": str(folder)}, out / "gis_app_before.log", folder)  # fmt: skip
    wait_port(BEFORE_PORT)
    return proc


def side_by_side(url: str, headers: dict, limit: int, rounds: int, servers: dict) -> dict:
    """Each box's page from the floor, then from each server, `rounds` times (after a warm-up)."""
    u = make_url(config.sqlalchemy_url(url))
    conn = psycopg2.connect(host=u.host, port=u.port, dbname=u.database, user=u.username,
                            password=u.password, options="-c jit=off -c max_parallel_workers_per_gather=0")  # fmt: skip
    conn.autocommit = True
    cur = conn.cursor()
    for box in BOXES:  # the same features, or no figures
        rows = floor_page(cur, box, limit)
        assert len(rows) == limit
        for port in servers.values():
            same_features(rows, items_url(port, box, limit), headers)
    times: dict[str, list[float]] = {"floor": [], **{name: [] for name in servers}}
    for r in range(rounds + 1):
        for box in BOXES:
            started = time.perf_counter()
            rows = floor_page(cur, box, limit)
            floor_s = time.perf_counter() - started
            assert len(rows) == limit
            if r:  # the first round warms up
                times["floor"].append(floor_s)
            for name, port in servers.items():
                status, size, seconds = get(items_url(port, box, limit), headers)
                assert status == 200, status
                if r:
                    times[name].append(seconds)
    conn.close()
    rename = {"tiles": "pages", "tiles_s": "pages_s"}
    result = {
        name: {rename.get(k, k): v for k, v in stats(values).items()}
        for name, values in times.items()
    }
    for name in servers:
        ratio = result[name]["mean_ms"] / result["floor"]["mean_ms"]
        result[f"{name}_to_floor"] = round(ratio, 2)
        # Each request over the floor's run just before it, the median of those: a load spike
        # of the shared machine then weighs on one pair, not on one side's mean.
        pairs = [a / f for a, f in zip(times[name], times["floor"], strict=True)]
        result[f"{name}_to_floor_paired_median"] = round(statistics.median(pairs), 2)
    return result


def main() -> None:
    """Run both page sizes; print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="gis_app_bench")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", help="a git commit whose app is served too, for before/after")
    parser.add_argument("--sizes", default="1000,10000", help="page sizes, comma-separated")
    parser.add_argument("--port-base", type=int, default=PORTS["gis_app"],
                        help="gis_app's port; the other commit's app is served at port-base + 3")  # fmt: skip
    args = parser.parse_args()
    global BEFORE_PORT
    PORTS["gis_app"], BEFORE_PORT = args.port_base, args.port_base + 3
    url = bench_url(args.database)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    results: dict = {"database": args.database, "layer": LAYER, "clients": 1,
                     "rounds": args.rounds, "before": args.before}  # fmt: skip
    procs = []
    with tempfile.TemporaryDirectory() as folder:
        try:
            proc, headers = ours(url, out)
            procs.append(proc)
            servers = {"gis_app": PORTS["gis_app"]}
            if args.before:
                procs.append(serve_commit(args.before, url, out, Path(folder)))
                servers["gis_app_before"] = BEFORE_PORT
            for limit in (int(n) for n in args.sizes.split(",")):
                results[f"page_{limit}"] = side_by_side(url, headers, limit, args.rounds, servers)
                print(limit, json.dumps(results[f"page_{limit}"]), flush=True)
        finally:
            for proc in procs:
                stop(proc)
    name = (
        "results-pages.json"
        if args.database == "gis_app_bench"
        else f"results-pages-{args.database}.json"
    )
    (ROOT / "bench" / name).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
