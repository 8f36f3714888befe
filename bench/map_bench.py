"""The web map's budget: HTML size of each page, the first view of Gatchina in Chromium, and the
refresh of the incident layer with 10,000 open incidents.

    .venv/bin/python bench/map_bench.py [--incidents 10000] [--runs 5]

Makes its own database (gis_app_bench_map) on the server of DATABASE_URL or var/database_url:
migrated, the demo data loaded, and --incidents open incidents added next to demo features.
Serves it with gunicorn (2 workers, 4 threads) on a free loopback port, and measures with
Debian's Chromium driven by Playwright, every request outside the server blocked.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis_app import config, migrate  # noqa: E402
from gis_app.accounts.users import create_token  # noqa: E402
from gis_app.demo.load import load_demo  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OPEN = "new,assigned,accepted,in_progress,resolved,rejected"


def bench_url(name: str) -> str:
    """The URL of database `name` on the app's server."""
    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    return base.set(database=name).render_as_string(hide_password=False)


def build(url: str, incidents: int) -> str:
    """A fresh database with the demo data and `incidents` open incidents; an admin token."""
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    migrate.upgrade(url)
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        load_demo(session, LayerRegistry.from_dir(ROOT / "layers"))
        # text(): a set-based insert of deterministic incidents beside random demo lines.
        session.execute(text("SELECT setseed(0.2026)"))
        session.execute(
            text(
                """
                INSERT INTO incidents (kind, utility_code, category, description, status, priority,
                    municipality_id, operator_id, feature_id, responsible_rule, responsible_reason,
                    reported_at, is_demo, geom)
                SELECT 'incident', f.utility_code, 'bench', 'нагрузочный тест', s.status, 3,
                       (SELECT m.id FROM municipalities m WHERE ST_Contains(m.geom, f.pt)
                        ORDER BY ST_Area(m.geom) LIMIT 1),
                       f.operator_id, f.id, 'nearest_feature', 'bench', now() - random() * interval '20 hours',
                       true, f.pt
                FROM (SELECT id, utility_code, operator_id,
                             ST_LineInterpolatePoint(geom, random()) AS pt
                      FROM network_features WHERE GeometryType(geom) = 'LINESTRING'
                      ORDER BY random() LIMIT :n) f
                CROSS JOIN LATERAL (SELECT (ARRAY['new','assigned','accepted','in_progress',
                    'resolved','rejected'])[1 + floor(random() * 6)::int] AS status
                    WHERE f.id IS NOT NULL) s
                """
            ),
            {"n": incidents},
        )
        token = create_token(session, "admin", "map bench", days=1)
    engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def get(base: str, path: str, token: str) -> tuple[bytes, float]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return body, (time.perf_counter() - started) * 1000


def browser_figures(base: str, token: str, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    first_view, refresh, refetch = [], [], []
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
            page.goto(f"{base}/map/gatchina")
            # Ready: municipalities and incidents drawn, and every network layer loaded.
            page.wait_for_function(
                "() => document.body.dataset.ready === '1' && window.gisMap &&"
                " gisMap.cfg.layers.every(l => document.body.dataset['layer_' + l.id] !== undefined)",
                timeout=30_000,
            )
            first_view.append(page.evaluate("performance.now()"))
            context.close()
        context = browser.new_context(
            viewport={"width": 1400, "height": 900},
            extra_http_headers={"Authorization": f"Bearer {token}"},
        )
        page = context.new_page()
        page.goto(f"{base}/")
        page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=30_000)
        count = int(page.evaluate("document.body.dataset.incidents"))
        for _ in range(runs * 2):
            refresh.append(
                page.evaluate(
                    "(async () => { const t = performance.now(); await gisWorkbench.refresh();"
                    " return performance.now() - t; })()"
                )
            )
            # As if something changed: the whole set is fetched again and compared marker by marker.
            refetch.append(
                page.evaluate(
                    "(async () => { gisWorkbench.etag = null; const t = performance.now();"
                    " await gisWorkbench.refresh(); return performance.now() - t; })()"
                )
            )
        context.close()
        browser.close()
    return {
        "first_view_ms": first_view,
        "refresh_ms": refresh,
        "refetch_ms": refetch,
        "incidents_drawn": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", default="gis_app_bench_map")
    args = parser.parse_args()
    url = bench_url(args.database)
    token = build(url, args.incidents)
    port = free_port()
    server = serve(url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        sizes = {
            path: len(get(base, path, token)[0])
            for path in ("/", "/map/gatchina", "/map/sosnovy-bor")
        }
        api_ms = [
            get(base, f"/api/incidents.geojson?status={OPEN}&limit=10000", token)[1]
            for _ in range(10)
        ]
        points_ms = [get(base, "/api/incidents/map.geojson", token)[1] for _ in range(10)]
        figures = browser_figures(base, token, args.runs)
    finally:
        server.terminate()
    result = {
        "open_incidents": args.incidents,
        "html_bytes": sizes,
        "incidents_geojson_ms_p50": round(statistics.median(api_ms), 1),
        "incident_points_geojson_ms_p50": round(statistics.median(points_ms), 1),
        "first_view_gatchina_ms_median": round(statistics.median(figures["first_view_ms"]), 0),
        "first_view_gatchina_ms_max": round(max(figures["first_view_ms"]), 0),
        "incident_refresh_in_browser_ms_median": round(statistics.median(figures["refresh_ms"]), 1),
        "incident_refetch_in_browser_ms_median": round(statistics.median(figures["refetch_ms"]), 1),
        "incidents_drawn": figures["incidents_drawn"],
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    (ROOT / "bench" / "results-map.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
