"""The offline base map's first view of a town (target < 1.5 s in Chromium, the map's budget).

    .venv/bin/python bench/basemap_bench.py [--runs 5]

Writes a synthetic OSM extract of a town the size of Gatchina (deterministic, seed 2026: a grid
of 120 named streets, about 7,000 numbered buildings, parks, a river, a railway) in a temporary
folder, makes it PBF (osmium) and an MBTiles archive with the project's tilemaker config, makes
its own database (gis_app_bench_basemap: migrated, demo data) and serves it with gunicorn (2
workers, 4 threads, GIS_APP_BASEMAP_FILE set). Chromium (Playwright, every request outside the
server blocked) opens /map/gatchina: the first view is the time until the page is ready, every
network layer is loaded and every base-map tile in view is drawn. Writes
bench/results-basemap.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.map_bench import FLAGS, free_port  # noqa: E402
from bench.serving_generate import bench_url, recreate  # noqa: E402
from gis_app import config, migrate  # noqa: E402
from gis_app.accounts.users import create_token  # noqa: E402
from gis_app.demo.load import load_demo  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

DATABASE = "gis_app_bench_basemap"
LON0, LAT0 = 30.098, 59.550  # south-west corner, inside the demo's Gatchina
STEP_LON, STEP_LAT = 0.0010, 0.0005  # ~57 m × 56 m blocks
NAMES = "Чехова Радищева Гоголя Пушкина Некрасова Горького Чкалова Кирова Ленина Мира".split()


def town_osm(seed: int = 2026) -> str:
    """OSM XML of a synthetic town: 60 + 60 streets, buildings in the blocks, parks, a river."""
    rng = random.Random(seed)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="bench">\n']
    nid, wid = 0, 0
    ways = []

    def node(lon: float, lat: float, tags: dict | None = None) -> int:
        nonlocal nid
        nid += 1
        inner = "".join(
            f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in (tags or {}).items()
        )
        out.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{inner}</node>\n')
        return nid

    def way(refs: list[int], tags: dict) -> None:
        nonlocal wid
        wid += 1
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        inner = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        ways.append(f'<way id="{wid}" version="1">{nds}{inner}</way>\n')

    n = 60
    for i in range(n):  # north-south streets
        refs = [node(LON0 + i * STEP_LON, LAT0 + j * STEP_LAT * 10) for j in range(7)]
        kind = "secondary" if i % 15 == 0 else "residential"
        way(refs, {"highway": kind, "name": f"улица {NAMES[i % 10]}-{i}"})
    for j in range(n):  # east-west streets
        refs = [node(LON0 + i * STEP_LON * 10, LAT0 + j * STEP_LAT) for i in range(7)]
        way(refs, {"highway": "tertiary" if j % 20 == 0 else "residential",
                   "name": f"проспект {NAMES[j % 10]}-{j}"})  # fmt: skip
    number = 0
    for i in range(n - 1):
        for j in range(n - 1):
            if rng.random() < 0.08:
                refs = [node(LON0 + (i + di) * STEP_LON, LAT0 + (j + dj) * STEP_LAT)
                        for di, dj in ((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9))]  # fmt: skip
                way([*refs, refs[0]], {"leisure": "park"})
                continue
            for k in range(2):
                number += 1
                x, y = LON0 + (i + 0.15 + 0.45 * k) * STEP_LON, LAT0 + (j + 0.2) * STEP_LAT
                refs = [node(x, y), node(x + 0.3 * STEP_LON, y), node(x + 0.3 * STEP_LON, y + 0.5 * STEP_LAT),
                        node(x, y + 0.5 * STEP_LAT)]  # fmt: skip
                way([*refs, refs[0]], {"building": "yes", "addr:street": f"улица {NAMES[i % 10]}-{i}",
                                       "addr:housenumber": str(number % 120 + 1)})  # fmt: skip
    river = [node(LON0 - 0.002 + t * 0.004, LAT0 + t * 0.0045) for t in range(16)]
    way(river, {"waterway": "river", "name": "Колпанка"})
    rail = [node(LON0 + t * 0.005, LAT0 + 0.031 - t * 0.001) for t in range(14)]
    way(rail, {"railway": "rail"})
    out.extend(ways)
    out.append("</osm>\n")
    return "".join(out)


def build_archive(folder: Path) -> tuple[Path, dict]:
    """The synthetic town as MBTiles; figures of the making."""
    osm = folder / "town.osm"
    osm.write_text(town_osm(), encoding="utf-8")
    pbf = folder / "town.osm.pbf"
    subprocess.run(["osmium", "cat", "--overwrite", "-o", str(pbf), str(osm)], check=True)
    target = folder / "town.mbtiles"
    started = time.monotonic()
    subprocess.run(
        ["tilemaker", "--input", str(pbf), "--output", str(target),
         "--config", str(ROOT / "basemap/config.json"),
         "--process", str(ROOT / "basemap/process.lua")],
        check=True, capture_output=True, cwd=folder,
    )  # fmt: skip
    return target, {
        "osm_xml_mb": round(osm.stat().st_size / 1e6, 1),
        "pbf_mb": round(pbf.stat().st_size / 1e6, 2),
        "tilemaker_s": round(time.monotonic() - started, 1),
        "mbtiles_mb": round(target.stat().st_size / 1e6, 2),
    }


def serve(url: str, port: int, archive: Path) -> subprocess.Popen:
    """gunicorn on the bench database with the archive as the base map."""
    import urllib.request

    env = {**os.environ, "DATABASE_URL": url, "GIS_APP_BASEMAP_FILE": str(archive)}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "4", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def first_views(base: str, token: str, runs: int) -> tuple[list[float], list[float], int, int]:
    """Milliseconds to the first view of Gatchina with the base map drawn, and without waiting
    for it; base-map responses; failures."""
    from playwright.sync_api import sync_playwright

    times, ready, tiles, failed = [], [], 0, 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for _ in range(runs):
            context = browser.new_context(
                viewport={"width": 1400, "height": 900},
                extra_http_headers={"Authorization": f"Bearer {token}"},
            )
            context.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort()
            )
            page = context.new_page()
            seen: list[int] = []
            page.on(
                "response",
                lambda r, seen=seen: seen.append(r.status) if "/basemap/" in r.url else None,
            )
            page.on("requestfailed", lambda r, seen=seen: seen.append(-1))
            page.goto(f"{base}/map/gatchina")
            # The page's own first view (networks, incidents), as bench/map_bench.py has it …
            page.wait_for_function(
                "() => document.body.dataset.ready === '1' && window.gisMap &&"
                " gisMap.cfg.layers.every(l => document.body.dataset['layer_' + l.id] !== undefined)",
                timeout=30_000,
                polling=20,
            )
            ready.append(page.evaluate("performance.now()"))
            # … and with every base-map tile in view drawn.
            page.wait_for_function(
                "() => gisMap.basemap && gisMap.basemap._noTilesToLoad() && document.querySelectorAll("
                "'.leaflet-tile-pane canvas.leaflet-tile-loaded').length > 0",
                timeout=30_000,
                polling=20,
            )
            times.append(page.evaluate("performance.now()"))
            tiles += len(seen)
            failed += sum(1 for s in seen if s < 0 or s >= 400)
            context.close()
        browser.close()
    return times, ready, tiles, failed


def main() -> None:
    """Build, serve, measure, write bench/results-basemap.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    url = bench_url(DATABASE)
    recreate(url)
    migrate.upgrade(url)
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        load_demo(session, LayerRegistry.from_dir(ROOT / "layers"))
        token = create_token(session, "dispatcher-gatchina", "bench")
    engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        archive, made = build_archive(Path(tmp))
        port = free_port()
        server = serve(url, port, archive)
        try:
            times, ready, tiles, failed = first_views(f"http://127.0.0.1:{port}", token, args.runs)
        finally:
            server.terminate()
            server.wait(10)
    result = {
        **made,
        "runs": args.runs,
        "first_view_ms_median": round(statistics.median(times)),
        "first_view_ms_max": round(max(times)),
        "first_view_ms": [round(t) for t in times],
        "page_ready_without_basemap_ms_median": round(statistics.median(ready)),
        "page_ready_ms": [round(t) for t in ready],
        "basemap_responses": tiles,
        "basemap_failed": failed,
        "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    out = ROOT / "bench" / "results-basemap.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
