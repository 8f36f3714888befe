"""Benchmark of the KPI API and the dashboard (issue 15) at up to 1,000,000 incidents.

Builds (once, or again with --rebuild) a separate database, gis_app_bench_kpi on the server of the
app's database: migrated, the demo data, 200 more operators, then N incidents spread evenly over
five years with a deterministic lifecycle history (created, assign, accept, start, resolve,
close; 3 % reopened and fixed again, 5 % duplicates, 2 % still open), about 5.5 events each. The
events are loaded with the facts trigger off and the facts then derived in batches (the same SQL
the trigger runs), which also times that derivation.

Then measures, in-process through the Flask test client (no network):

  1. GET /api/kpi?group=operator&period=<year> answered from the summary table (whole reports of
     years and months, made by the worker; `gis-app kpi refresh --all` is timed) — p50/p99 over
     --requests requests, and the same with group=municipality and week;
  2. the same computed live from the per-incident facts (the rollup kept by the trigger), as for
     a municipality's or a span's question (?municipality=, ?period=from..to);
  3. the same report derived from the events each time (source=events: the view over plain
     indexes), fewer requests;
  4. the cost of keeping the rollup: events written with the trigger as migrated, with the
     LANGUAGE sql function of migration 0013 (before 0020), and with the trigger off
     (`--trigger-only` measures just this);
  5. the dashboard's first view in Chromium (login, then /dashboard until its data is drawn).

    .venv/bin/python bench/kpi_bench.py [--incidents 1000000] [--requests 100] [--rebuild]

It never touches the app's own database; results go to bench/results-kpi.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis_app import config, create_app, migrate  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

BENCH_DB = "gis_app_bench_kpi"
YEARS = 5
BATCH = 50_000


def bench_url() -> str:
    """The bench database's URL: the app's server, another database (never the app's own)."""
    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    url = base.set(database=BENCH_DB)
    assert url.database != base.database
    return url.render_as_string(hide_password=False)


# One batch of incidents [lo, hi): place, operator, utility, times all from the number g.
INCIDENTS_SQL = """
INSERT INTO incidents (id, kind, utility_code, status, priority, municipality_id, operator_id,
    reported_at, assigned_at, accept_due_at, resolve_due_at, resolved_at, closed_at,
    consumers_cut_off, source, created_by, geom)
SELECT g, CASE WHEN g % 5 = 0 THEN 'accident' ELSE 'incident' END, u.code,
       CASE WHEN g % 50 = 7 THEN 'assigned' WHEN g % 20 = 3 THEN 'duplicate' ELSE 'closed' END,
       1 + g % 4, m.id, o.id, r.at, r.at, r.at + interval '1 hour',
       r.at + interval '4 hours',
       CASE WHEN g % 50 = 7 OR g % 20 = 3 THEN NULL ELSE r.at + make_interval(mins => r.fix) END,
       CASE WHEN g % 50 = 7 OR g % 20 = 3 THEN NULL
            ELSE r.at + make_interval(mins => r.fix + 60) END,
       CASE WHEN g % 10 = 0 THEN (g * 7919) % 500 END, 'bench', 'bench', m.pt
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint) - 1) g
CROSS JOIN LATERAL (
    SELECT CAST(:t0 AS timestamptz) + (g - 1) * :step * interval '1 second' AS at,
           1 + ((g * 40503) % 90)::int + 5 + ((g * 2654435761) % 600)::int AS fix
) r
JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM operators) o
  ON o.n = (g * 40503) % :n_ops
JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, ST_PointOnSurface(geom) AS pt
      FROM municipalities WHERE parent_id IS NOT NULL) m
  ON m.n = (g * 7) % :n_munis
JOIN (SELECT row_number() OVER (ORDER BY code) - 1 AS n, code FROM utilities) u
  ON u.n = g % :n_utils
"""

# Their events: minutes after the report, action, from, to; reopened ones get three more.
EVENTS_SQL = """
INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status, data)
SELECT i.id, i.reported_at + make_interval(mins => e.m), 'bench', e.action, e.frm, e.too,
       CASE WHEN e.action = 'created' THEN '{"deadline_rule_id": 1}'::jsonb ELSE '{}' END
FROM incidents i
CROSS JOIN LATERAL (
    SELECT 1 + ((i.id * 40503) % 90)::int AS acc,
           1 + ((i.id * 40503) % 90)::int + 5 + ((i.id * 2654435761) % 600)::int AS fix
) k
CROSS JOIN LATERAL (VALUES
    (0, 'created', NULL, 'new', true),
    (0, 'duplicate', 'new', 'duplicate', i.status = 'duplicate'),
    (0, 'assign', 'new', 'assigned', i.status <> 'duplicate'),
    (k.acc, 'accept', 'assigned', 'accepted', i.status = 'closed'),
    (k.acc + 1, 'start', 'accepted', 'in_progress', i.status = 'closed'),
    (k.acc + 2, 'resolve', 'in_progress', 'resolved', i.status = 'closed' AND i.id % 33 = 0),
    (k.acc + 3, 'reopen', 'resolved', 'assigned', i.status = 'closed' AND i.id % 33 = 0),
    (k.acc + 4, 'accept', 'assigned', 'accepted', i.status = 'closed' AND i.id % 33 = 0),
    (k.fix + 3, 'resolve', 'accepted', 'resolved', i.status = 'closed'),
    (k.fix + 60, 'close', 'resolved', 'closed', i.status = 'closed')
) AS e(m, action, frm, too, wanted)
WHERE i.id >= :lo AND i.id < :hi AND e.wanted
ORDER BY i.id, e.m
"""


def build(url: str, n: int, rebuild: bool) -> dict:
    """Create and fill the bench database (when needed); timings of the load."""
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
    engine = create_engine(config.sqlalchemy_url(url))
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM incidents WHERE source = 'bench'")).scalar()
    if have >= n:
        engine.dispose()
        return {"incidents": have, "built": False}
    from gis_app.demo.load import load_demo

    timings: dict = {"incidents": n, "built": True}
    with Session(engine) as session, session.begin():
        if not session.execute(text("SELECT count(*) FROM operators")).scalar():
            load_demo(session, LayerRegistry.from_dir(ROOT / "layers"))
        session.execute(
            text(
                "INSERT INTO operators (slug, full_name, short_name)"
                " SELECT 'bench-' || g, 'Bench operator ' || g, 'Оператор ' || g"
                " FROM generate_series(1, 200) g ON CONFLICT DO NOTHING"
            )
        )
        session.execute(text("DELETE FROM incidents"))
    with engine.connect() as conn:
        dims = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM operators), (SELECT count(*) FROM municipalities"
                " WHERE parent_id IS NOT NULL), (SELECT count(*) FROM utilities)"
            )
        ).one()
    t0 = time.monotonic()
    start = "2021-01-01T00:00:00+03:00"
    step = YEARS * 365.25 * 86400 / n
    params = {"t0": start, "step": step, "n_ops": dims[0], "n_munis": dims[1], "n_utils": dims[2]}
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE incident_events DISABLE TRIGGER incident_events_kpi"))
    for lo in range(1, n + 1, BATCH):
        hi = min(lo + BATCH, n + 1)
        with engine.begin() as conn:
            conn.execute(text(INCIDENTS_SQL), {**params, "lo": lo, "hi": hi})
            conn.execute(text(EVENTS_SQL), {"lo": lo, "hi": hi})
        print(f"  loaded {hi - 1:,} incidents ({time.monotonic() - t0:.0f} s)", flush=True)
    with engine.begin() as conn:
        conn.execute(text("SELECT setval('incidents_id_seq', :n)"), {"n": n})
        conn.execute(text("ALTER TABLE incident_events ENABLE TRIGGER incident_events_kpi"))
    timings["load_s"] = round(time.monotonic() - t0, 1)
    t1 = time.monotonic()
    for lo in range(1, n + 1, BATCH):
        with engine.begin() as conn:
            conn.execute(
                text("SELECT kpi_refresh_facts(ARRAY(SELECT generate_series(:lo, :hi - 1)))"),
                {"lo": lo, "hi": min(lo + BATCH, n + 1)},
            )
        print(f"  facts of {min(lo + BATCH, n + 1) - 1:,} ({time.monotonic() - t1:.0f} s)")
    timings["facts_s"] = round(time.monotonic() - t1, 1)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM incident_events), pg_database_size(current_database())"
            )
        ).one()
    timings["events"], timings["database_mb"] = counts[0], round(counts[1] / 2**20)
    engine.dispose()
    return timings


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s)) - 1))]


def measure(client, url: str, requests: int) -> dict:
    """p50/p99/max in ms of `requests` GETs of `url` (after one warm-up)."""
    assert client.get(url).status_code == 200
    times = []
    for _ in range(requests):
        t = time.perf_counter()
        r = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return {
        "requests": requests,
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(percentile(times, 0.99), 1),
        "max_ms": round(max(times), 1),
    }


def _migration_0013():
    """Migration 0013's module: its LANGUAGE sql refresh function, the one before 0020."""
    import importlib.util

    path = ROOT / "migrations" / "versions" / "0013_kpi.py"
    spec = importlib.util.spec_from_file_location("migration_0013_kpi", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trigger_cost(url: str, events: int = 200, rounds: int = 7) -> dict:
    """ms per lifecycle event written: with the rollup trigger as migrated (PL/pgSQL, generic
    plans: migration 0020), with 0013's LANGUAGE sql function (planned at every call), and with
    the trigger off. Side by side, `rounds` times in turn, each in a rolled-back transaction;
    the medians."""
    engine = create_engine(config.sqlalchemy_url(url))
    variants = {
        "current": None,
        "sql_function_0013": "DROP FUNCTION kpi_refresh_facts(bigint[]);"
        + _migration_0013().REFRESH_FUNCTION,
        "trigger_off": "ALTER TABLE incident_events DISABLE TRIGGER incident_events_kpi",
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, ddl in variants.items():
            with engine.connect() as conn:
                trans = conn.begin()
                if ddl:
                    conn.exec_driver_sql(ddl)
                ids = conn.execute(
                    text("SELECT id FROM incidents ORDER BY id DESC LIMIT :n"), {"n": events}
                ).scalars()
                t = time.perf_counter()
                for incident_id in ids:
                    conn.execute(
                        text(
                            "INSERT INTO incident_events (incident_id, actor, action, comment)"
                            " VALUES (:i, 'bench', 'updated', 'bench')"
                        ),
                        {"i": incident_id},
                    )
                times[name].append((time.perf_counter() - t) * 1000 / events)
                trans.rollback()
    engine.dispose()
    out = {f"{name}_ms_per_event": round(statistics.median(v), 2) for name, v in times.items()}
    off = out["trigger_off_ms_per_event"]
    out["rollup_ms_current"] = round(out["current_ms_per_event"] - off, 2)
    out["rollup_ms_sql_function_0013"] = round(out["sql_function_0013_ms_per_event"] - off, 2)
    return out


def dashboard_first_view(app, year: int) -> dict:
    """Seconds from the dashboard's navigation to its data drawn, in Chromium (logged in)."""
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    times = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort()
            )
            page.goto(f"{base}/login?next=/")
            page.fill("input[name=username]", "dispatcher-oblast")
            page.fill("input[name=password]", "demo-2026")
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            for _ in range(5):
                t = time.perf_counter()
                page.goto(f"{base}/dashboard?period={year}")
                page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)
                times.append(time.perf_counter() - t)
            browser.close()
    finally:
        server.shutdown()
    return {"runs_s": [round(x, 2) for x in times], "median_s": round(statistics.median(times), 2)}


class engine_session:  # noqa: N801  (a context manager used like a function)
    """A committed session on the app's engine."""

    def __init__(self, app) -> None:
        self.session = Session(app.config["ENGINE"])

    def __enter__(self) -> Session:
        self.session.begin()
        return self.session

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.session.commit()
        self.session.close()


def main() -> None:
    """Build, measure, print and save the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--events-requests", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--trigger-only", action="store_true", help="only the cost of the rollup")
    args = ap.parse_args()
    url = bench_url()
    print(f"building {BENCH_DB} with {args.incidents:,} incidents …", flush=True)
    results: dict = {"build": build(url, args.incidents, args.rebuild)}
    if args.trigger_only:
        print("trigger", trigger_cost(url), flush=True)
        return
    app = create_app({"DATABASE_URL": url, "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS": 10**6})
    year = 2024  # a full year in the middle of the five
    from gis_app.accounts.users import create_token

    with Session(app.config["ENGINE"]) as session, session.begin():
        token = create_token(session, "admin", "kpi bench")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    from gis_app.kpi import summaries

    with engine_session(app) as session:
        session.execute(text("DELETE FROM kpi_summaries"))
        t = time.perf_counter()
        made = summaries.refresh_stale(session, everything=True)
        results["summaries"] = {"made": made, "seconds": round(time.perf_counter() - t, 1)}
    print("summaries", results["summaries"], flush=True)
    for group in ("operator", "municipality", "week"):
        target = f"/api/kpi?group={group}&period={year}"
        results[f"summary_{group}"] = measure(client, target, args.requests)
        print(group, "summary", results[f"summary_{group}"], flush=True)
    for group in ("operator", "municipality", "week"):
        # A span of the same days is not a calendar period: computed live from the facts.
        target = f"/api/kpi?group={group}&period={year}-01-01..{year}-12-31"
        results[f"facts_{group}"] = measure(client, target, max(5, args.requests // 5))
        print(group, "facts", results[f"facts_{group}"], flush=True)
    results["events_operator"] = measure(
        client, f"/api/kpi?group=operator&period={year}&source=events", args.events_requests
    )
    print("operator events", results["events_operator"], flush=True)
    results["trigger"] = trigger_cost(url)
    print("trigger", results["trigger"], flush=True)
    if not args.skip_browser:
        results["dashboard"] = dashboard_first_view(app, year)
        print("dashboard", results["dashboard"], flush=True)
    out = ROOT / "bench" / "results-kpi.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
