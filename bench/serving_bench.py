"""Serving benchmark (issue 3): OGC API items, the PostGIS floor, pygeoapi and tipg, tiles, an
export and the server's memory, in one run on the 1,000,000-feature database of serving_generate.py.

    .venv/bin/python bench/serving_generate.py        # once: gis_app_bench, 1,000,000 features
    .venv/bin/python bench/serving_bench.py [--database gis_app_bench] [--skip-peers]

Installs pygeoapi and tipg from PyPI, each into its own venv under bench/.venvs/ (gitignored),
serves the same rows with each (flat views bench_<layer>), and measures with the same pages:
bbox pages of 1,000 (300 requests) and 10,000 features (40 requests) of road_segments, 2 clients
on kept-alive connections (as GDAL, QGIS and browsers keep them), and once more for 1,000 with a
new connection per request. Every server gets 2 worker processes (gunicorn / uvicorn), as
`make run` does. Writes bench/results-serving.json and prints it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / "bench" / ".venvs"
sys.path.insert(0, str(ROOT))

from bench.serving_generate import bench_url  # noqa: E402
from gis_app import config  # noqa: E402
from gis_app.features.pages import Query, feature_batches  # noqa: E402
from gis_app.features.sources import layer_source  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

LAYER = "road_segments"
# Boxes around the four towns' clusters of copies; each holds well over 10,000 road segments.
BOXES = [
    (29.62, 59.32, 30.62, 59.82),  # Gatchina
    (28.60, 59.65, 29.60, 60.15),  # Sosnovy Bor
    (31.25, 59.20, 32.25, 59.70),  # Kirishi
    (28.25, 60.45, 29.25, 60.95),  # Vyborg
]
ROUNDS = 3
PORTS = {"gis_app": 5201, "pygeoapi": 5202, "tipg": 5203}


_LOCAL = threading.local()


def get(url: str, headers: dict | None = None, keep_alive: bool = True) -> tuple[int, int, float]:
    """GET url on this thread's kept-alive connection (as GDAL, QGIS and browsers do), or on a
    new one; return (status, bytes, seconds)."""
    parts = urlsplit(url)
    started = time.perf_counter()
    conns = _LOCAL.__dict__.setdefault("conns", {})
    conn = conns.get(parts.netloc) if keep_alive else None
    if conn is None:
        conn = conns[parts.netloc] = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=300
        )
    target = parts.path + ("?" + parts.query if parts.query else "")
    try:
        conn.request("GET", target, headers=headers or {})
        response = conn.getresponse()
    except (http.client.HTTPException, ConnectionError):  # the server closed a kept connection
        conn.close()
        conn.request("GET", target, headers=headers or {})
        response = conn.getresponse()
    body = response.read()
    if response.will_close or not keep_alive:
        conn.close()
        conns.pop(parts.netloc, None)
    return response.status, len(body), time.perf_counter() - started


def run_load(
    urls: list[str], headers: dict, clients: int, count: int, budget_s: float, keep_alive=True
) -> dict:
    """`count` requests over `clients` threads (or until budget_s): req/s, p50, p95, bytes."""
    latencies, sizes, errors = [], [], []
    lock = threading.Lock()
    deadline = time.monotonic() + budget_s
    counter = iter(range(count))

    def worker():
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            status, size, seconds = get(urls[i % len(urls)], headers, keep_alive)
            with lock:
                (latencies if status == 200 else errors).append(seconds)
                sizes.append(size)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return summary(
        latencies, wall, errors=len(errors), mean_bytes=int(statistics.mean(sizes or [0]))
    )


def summary(latencies: list[float], wall: float, **extra) -> dict:
    """req/s and latency percentiles (ms)."""
    ordered = sorted(latencies)
    pct = lambda q: round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)  # noqa: E731
    return {"requests": len(ordered), "req_s": round(len(ordered) / wall, 2) if wall else 0,
            "p50_ms": pct(0.5) if ordered else None, "p95_ms": pct(0.95) if ordered else None, **extra}  # fmt: skip


def wait_port(port: int, seconds: float = 60) -> None:
    """Wait until something listens on 127.0.0.1:port."""
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing listens on port {port}")


def venv(name: str, packages: list[str]) -> Path:
    """bench/.venvs/<name> with `packages` from PyPI (once)."""
    path = VENVS / name
    stamp = path / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", *packages], check=True)
        stamp.write_text(" ".join(packages))
    return path


def start(cmd: list[str], env: dict, log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Start a server process group, its output to `log`. `cwd`: run it there (gunicorn puts the
    directory it was started in first on sys.path, before --chdir's: a checkout served "before"
    must be started inside it, or it serves this tree's code)."""
    out = log.open("w")
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=cwd)  # fmt: skip


def stop(proc: subprocess.Popen) -> None:
    """Stop a server we started (its process group)."""
    os.killpg(proc.pid, 15)
    proc.wait(20)


def rss_tree(pid: int) -> dict[int, float]:
    """Resident memory (MB) of a process and each of its descendants, by pid."""
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found[p] = int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def rss_tree_mb(pid: int) -> float:
    """Resident memory (MB) of a process and all its descendants."""
    return sum(rss_tree(pid).values())


def ours(url: str, out: Path) -> tuple[subprocess.Popen, dict]:
    """gunicorn serving gis_app on the bench database; an admin token for it."""
    from gis_app.accounts.users import create_token, create_user

    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        exists = session.execute(
            text("SELECT 1 FROM users WHERE username = 'bench-runner'")
        ).first()
        if not exists:
            create_user(session, "bench-runner", "admin")
        token = create_token(session, "bench-runner", "serving bench", days=1)
    engine.dispose()
    proc = start([str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{PORTS['gis_app']}",
                  "--workers", "2", "--threads", "4", "wsgi:app"],
                 {"DATABASE_URL": url}, out / "gis_app.log")  # fmt: skip
    wait_port(PORTS["gis_app"])
    return proc, {"Authorization": f"Bearer {token}"}


def pygeoapi(url: str, out: Path) -> subprocess.Popen:
    """pygeoapi (PostgreSQL provider) on the flat view, gunicorn with 2 workers."""
    path = venv(
        "pygeoapi", ["pygeoapi", "psycopg2-binary", "geoalchemy2", "sqlalchemy", "gunicorn"]
    )
    u = make_url(config.sqlalchemy_url(url))
    cfg = {
        "server": {"bind": {"host": "127.0.0.1", "port": PORTS["pygeoapi"]},
                   "url": f"http://127.0.0.1:{PORTS['pygeoapi']}", "mimetype": "application/json; charset=UTF-8",
                   "encoding": "utf-8", "language": "en-US", "pretty_print": False,
                   "limits": {"default_items": 100, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                                        "keywords_type": "theme", "terms_of_service": "none", "url": "http://x"},
                     "license": {"name": "MIT", "url": "http://x"}, "provider": {"name": "x", "url": "http://x"},
                     "contact": {"name": "x", "email": "x@x", "url": "http://x", "role": "pointOfContact"}},
        "resources": {LAYER: {"type": "collection", "title": LAYER, "description": LAYER, "keywords": [LAYER],
                              "extents": {"spatial": {"bbox": [27, 58, 36, 62],
                                                      "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                              "providers": [{"type": "feature", "name": "PostgreSQL",
                                             "data": {"host": u.host, "port": u.port, "dbname": u.database,
                                                      "user": u.username, "password": u.password,
                                                      "search_path": ["public"]},
                                             "id_field": "id", "table": f"bench_{LAYER}", "geom_field": "geom"}]}},
    }  # fmt: skip
    cfg_path, api_path = out / "pygeoapi.config.yml", out / "pygeoapi.openapi.yml"
    cfg_path.write_text(json.dumps(cfg))  # JSON is YAML
    env = {"PYGEOAPI_CONFIG": str(cfg_path), "PYGEOAPI_OPENAPI": str(api_path)}
    subprocess.run([str(path / "bin/pygeoapi"), "openapi", "generate", str(cfg_path), "--output-file",
                    str(api_path)], env={**os.environ, **env}, check=True, capture_output=True)  # fmt: skip
    proc = start([str(path / "bin/gunicorn"), "--bind", f"127.0.0.1:{PORTS['pygeoapi']}", "--workers", "2",
                  "pygeoapi.flask_app:APP"], env, out / "pygeoapi.log")  # fmt: skip
    wait_port(PORTS["pygeoapi"])
    return proc


def tipg(url: str, out: Path) -> subprocess.Popen:
    """tipg on the flat views, uvicorn with 2 workers."""
    path = venv("tipg", ["tipg", "uvicorn"])
    env = {
        "DATABASE_URL": url,
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        "TIPG_DB_SCHEMAS": '["public"]',
    }
    proc = start([str(path / "bin/uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port",
                  str(PORTS["tipg"]), "--workers", "2", "--log-level", "warning"], env, out / "tipg.log")  # fmt: skip
    wait_port(PORTS["tipg"])
    return proc


def floor(url: str, limit: int, count: int, clients: int) -> dict:
    """PostGIS alone: the same SQL as our items (GeoJSON per row), fetched by psycopg2, no HTTP."""
    registry = LayerRegistry.from_dir(ROOT / "layers")
    source = layer_source(registry.get(LAYER))
    engine = create_engine(config.sqlalchemy_url(url), pool_size=clients)
    latencies, lock, counter = [], threading.Lock(), iter(range(count))

    def worker():
        with Session(engine) as session:
            while (i := next(counter, None)) is not None:
                started = time.perf_counter()
                query = Query(bbox=BOXES[i % len(BOXES)])
                rows = [
                    r for batch in feature_batches(session, source, query, limit) for r in batch
                ]
                assert len(rows) == limit
                with lock:
                    latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = summary(latencies, time.perf_counter() - started)
    engine.dispose()
    return result


def item_urls(server: str, limit: int) -> list[str]:
    """The same bbox pages on each server."""
    base = {"gis_app": f"http://127.0.0.1:{PORTS['gis_app']}/ogc/collections/{LAYER}/items",
            "pygeoapi": f"http://127.0.0.1:{PORTS['pygeoapi']}/collections/{LAYER}/items",
            "tipg": f"http://127.0.0.1:{PORTS['tipg']}/collections/public.bench_{LAYER}/items"}[server]  # fmt: skip
    fmt = "&f=json" if server == "pygeoapi" else ""
    return [f"{base}?bbox={','.join(map(str, b))}&limit={limit}{fmt}" for b in BOXES]


def tile_urls(server: str, z: int) -> list[str]:
    """Tiles of road_segments around the four towns at zoom z."""
    import math

    urls = []
    for w, s, e, n in BOXES:
        lon, lat = (w + e) / 2, (s + n) / 2
        x = int((lon + 180) / 360 * 2**z)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
        for dx in (-1, 0, 1):
            if server == "gis_app":
                urls.append(
                    f"http://127.0.0.1:{PORTS['gis_app']}/tiles/{LAYER}/{z}/{x + dx}/{y}.mvt"
                )
            else:
                urls.append(f"http://127.0.0.1:{PORTS['tipg']}/collections/public.bench_{LAYER}"
                            f"/tiles/WebMercatorQuad/{z}/{x + dx}/{y}")  # fmt: skip
    return urls


def memory_walk(headers: dict, proc: subprocess.Popen) -> dict:
    """Walk every collection's items by next links (10,000 a page): all 1,000,000 features
    stream through the server while its RSS (master + workers) is sampled every 50 ms."""
    base = f"http://127.0.0.1:{PORTS['gis_app']}"
    registry = LayerRegistry.from_dir(ROOT / "layers")
    peak, before, done = [0.0], rss_tree_mb(proc.pid), threading.Event()
    worker_before = max(v for k, v in rss_tree(proc.pid).items() if k != proc.pid)
    worker_peak = [0.0]

    def sample():
        while not done.is_set():
            tree = rss_tree(proc.pid)
            peak[0] = max(peak[0], sum(tree.values()))
            worker_peak[0] = max([worker_peak[0]] + [v for k, v in tree.items() if k != proc.pid])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started, total = time.perf_counter(), 0
    for layer in registry:
        url = f"{base}/ogc/collections/{layer.id}/items?limit=10000"
        while url:
            parts = urlsplit(url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
            conn.request("GET", parts.path + "?" + parts.query, headers=headers)
            body = json.loads(conn.getresponse().read())
            conn.close()
            total += body["numberReturned"]
            url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    done.set()
    sampler.join()
    return {"features": total, "seconds": round(time.perf_counter() - started, 1),
            "rss_before_mb": round(before, 1), "rss_peak_mb": round(peak[0], 1),
            "worker_rss_before_mb": round(worker_before, 1), "worker_rss_peak_mb": round(worker_peak[0], 1)}  # fmt: skip


def export_time(url: str, out: Path) -> dict:
    """`gis-app export --municipality gatchinsky -f gpkg` on the bench database."""
    target = out / "gatchinsky.gpkg"
    started = time.perf_counter()
    result = subprocess.run([str(ROOT / ".venv/bin/gis-app"), "export", "--municipality", "gatchinsky", "-f",
                             "gpkg", "-o", str(target)], env={**os.environ, "DATABASE_URL": url},
                            capture_output=True, text=True, check=True)  # fmt: skip
    return {"seconds": round(time.perf_counter() - started, 1), "summary": result.stdout.strip(),
            "bytes": target.stat().st_size}  # fmt: skip


def main() -> None:
    """Run everything; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="gis_app_bench")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    url = bench_url(args.database)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    results: dict = {"database": args.database, "clients": args.clients, "layer": LAYER}
    with create_engine(config.sqlalchemy_url(url)).connect() as conn:
        results["features"] = conn.execute(text("SELECT count(*) FROM network_features")).scalar()
        results["layer_features"] = conn.execute(
            text("SELECT count(*) FROM network_features WHERE layer_id = :l"), {"l": LAYER}
        ).scalar()
    plan = {1000: (300, 120), 10000: (40, 180)}  # limit -> (requests, time budget s)
    for limit, (count, _budget) in plan.items():
        results[f"floor_{limit}"] = floor(url, limit, count, args.clients)
        print("floor", limit, results[f"floor_{limit}"], flush=True)
    # With kept-alive connections, which gunicorn worker takes each client's connection decides
    # whether the two clients share one process (and its GIL) or not: a fresh server per round,
    # three rounds, the median reported and every round kept.
    rounds = []
    for _ in range(ROUNDS):
        proc, headers = ours(url, out)
        try:
            run_load(item_urls("gis_app", 1000), headers, args.clients, 20, 60)  # warm-up
            rounds.append(run_load(item_urls("gis_app", 1000), headers, args.clients, *plan[1000]))
            print("gis_app 1000 round", rounds[-1], flush=True)
        finally:
            stop(proc)
    results["gis_app_1000"] = sorted(rounds, key=lambda r: r["req_s"])[len(rounds) // 2]
    results["gis_app_1000_rounds_req_s"] = [r["req_s"] for r in rounds]
    proc, headers = ours(url, out)
    try:
        count, budget = plan[10000]
        run_load(item_urls("gis_app", 10000), headers, args.clients, 10, 60)  # warm-up
        results["gis_app_10000"] = run_load(
            item_urls("gis_app", 10000), headers, args.clients, count, budget
        )
        print("gis_app", 10000, results["gis_app_10000"], flush=True)
        # Clients that open a new connection for every request (the figures above keep it).
        results["gis_app_1000_new_connections"] = run_load(
            item_urls("gis_app", 1000), headers, args.clients, *plan[1000], keep_alive=False
        )
        print("gis_app 1000 new connections", results["gis_app_1000_new_connections"], flush=True)
        for z in (10, 14):
            results[f"gis_app_tiles_z{z}"] = run_load(tile_urls("gis_app", z), headers, 1, 24, 120)
            print("tiles", z, results[f"gis_app_tiles_z{z}"], flush=True)
        results["memory"] = memory_walk(headers, proc)
        print("memory", results["memory"], flush=True)
    finally:
        stop(proc)
    results["export"] = export_time(url, out)
    print("export", results["export"], flush=True)
    if not args.skip_peers:
        for name, starter in (("pygeoapi", pygeoapi), ("tipg", tipg)):
            try:
                peer = starter(url, out)
            except Exception as exc:  # a peer that fails to start is reported, not fatal
                results[f"{name}_error"] = repr(exc)
                print(name, "failed:", exc, flush=True)
                continue
            try:
                for limit, (count, budget) in plan.items():
                    run_load(item_urls(name, limit), {}, args.clients, 20, 120)  # warm-up
                    results[f"{name}_{limit}"] = run_load(
                        item_urls(name, limit), {}, args.clients, count, budget
                    )
                    print(name, limit, results[f"{name}_{limit}"], flush=True)
                if name == "tipg":
                    for z in (10, 14):
                        results[f"tipg_tiles_z{z}"] = run_load(tile_urls("tipg", z), {}, 1, 24, 120)
                        print("tipg tiles", z, results[f"tipg_tiles_z{z}"], flush=True)
            finally:
                stop(peer)
    (ROOT / "bench" / "results-serving.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
