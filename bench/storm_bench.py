"""A storm in the control room: one dispatcher reports 30 calls in a row through the web map, in
Chromium, and the script counts the clicks, the keystrokes and the time of each report.

    .venv/bin/python bench/storm_bench.py                  # this tree ("after")
    .venv/bin/python bench/storm_bench.py --before 4b91752 # and the same storm on an old commit

Makes its own database (gis_app_bench_storm) on the server of DATABASE_URL or var/database_url:
migrated and the demo data loaded, afresh for each run. Serves the code of this tree (or of a
detached `git worktree` of --before) with gunicorn on a free loopback port, and drives Debian's
Chromium (1400×900) with Playwright, every request outside the server blocked.

The calls: 30 points of Gatchina (seeded), each 5-15 m from the nearest network asset and from
every other one (so a click there is a click beside the networks, not on a line); the caller's
utility is that asset's. For each call the map is put at zoom 17 on the point (not counted: both
versions need the same zooming until the address search lands), then the dispatcher:
clicks the point; sets the utility when the form does not show the caller's one (a click on its
chip where the form has chips, otherwise 2 clicks: open the list, choose); types a description and an address; saves (a click on the button, or Enter
where the form takes it); when the button is covered or out of the window, drags the map first
(1 more move). The report ends when the card of the new incident shows. Also counted: the
utility preselected wrongly (a report that goes to the wrong operator if missed), the form not
fully visible, and the new incident missing from the dispatcher's queue.
Human time is estimated with the keystroke-level model (Card, Moran, Newell: 1.1 s to point and
click, 0.28 s a keystroke, 1.35 s to think before each report).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis_app import config, migrate  # noqa: E402
from gis_app.demo.load import load_demo  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from map_bench import FLAGS, bench_url, free_port  # noqa: E402

CALLS = 30
CLICK_S, KEY_S, THINK_S = 1.1, 0.28, 1.35
DESCRIPTION = "Звонок: авария на сети, жители без услуги"
USER = "dispatcher-gatchina"


def build(url: str) -> None:
    """A fresh database: migrated, the demo data loaded."""
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
    engine.dispose()


def calls(url: str) -> list[dict]:
    """The storm: points beside the networks of Gatchina and the utility each caller means."""
    engine = create_engine(config.sqlalchemy_url(url))
    with engine.connect() as conn:
        # text(): seeded random points in the town, each with the nearest asset and its distance.
        rows = conn.execute(
            text(
                """
                SELECT ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, n.utility_code, n.distance_m
                FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, 3000, 2026))).geom
                      FROM municipalities WHERE slug = 'gatchina') p
                CROSS JOIN LATERAL (
                    SELECT f.utility_code, ST_Distance(f.geom::geography, p.geom::geography)
                           AS distance_m
                    FROM network_features f WHERE f.layer_id <> 'road_segments'
                    ORDER BY f.geom <-> p.geom LIMIT 1) n
                WHERE NOT EXISTS (SELECT 1 FROM network_features r WHERE ST_DWithin(
                    r.geom::geography, p.geom::geography, 5))
                """
            )
        ).all()
    engine.dispose()
    chosen, seen = [], set()
    for r in rows:
        # 5-15 m from the asset; a spread of utilities; 300 m apart within a utility (no
        # duplicate merging, which would make some reports shorter).
        if (
            not 5 <= r.distance_m <= 15
            or (r.utility_code, round(r.lon, 2), round(r.lat, 2)) in seen
        ):
            continue
        seen.add((r.utility_code, round(r.lon, 2), round(r.lat, 2)))
        chosen.append({"lon": r.lon, "lat": r.lat, "utility": r.utility_code,
                       "asset_m": round(r.distance_m, 1)})  # fmt: skip
        if len(chosen) == CALLS:
            break
    return chosen


def serve(code: Path, url: str, port: int) -> subprocess.Popen:
    """gunicorn serving the app of the tree `code` (its gis_app first on the path)."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(code)}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "4", "--chdir", str(code), "wsgi:app"],
        cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import urllib.request

    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def covered(page, selector: str) -> bool:
    """True when the element's centre is out of the window or under something else."""
    return page.evaluate(
        """sel => { const b = document.querySelector(sel); if (!b) return true;
        const r = b.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
        if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return true;
        const top = document.elementFromPoint(x, y); return !(top === b || b.contains(top)); }""",
        selector,
    )


def form_hidden_part(page, selector: str) -> bool:
    """True when part of the form is off the window or under the header, panel or legend."""
    return page.evaluate(
        """sel => { const f = document.querySelector(sel).getBoundingClientRect();
        if (f.top < 0 || f.left < 0 || f.bottom > innerHeight || f.right > innerWidth) return true;
        const over = ['.gis-header', '.gis-legend', '#gis-queue', '#gis-card'].map(s =>
          document.querySelector(s)).filter(n => n && n.offsetParent !== null && !n.hidden &&
          !n.contains(document.querySelector(sel)));
        return over.some(n => { const r = n.getBoundingClientRect();
          return !(r.right <= f.left || f.right <= r.left || r.bottom <= f.top || f.bottom <= r.top); }); }""",
        selector,
    )


def one_report(page, call: dict) -> dict:
    """Report one call the way a dispatcher does; what it took."""
    lon, lat = call["lon"], call["lat"]
    page.evaluate(f"gisMap.map.setView([{lat}, {lon}], 17, {{animate: false}}) && null")
    page.wait_for_timeout(400)  # the layers of the view arrive
    clicks = keys = moves = 0
    new_ui = page.evaluate("!!window.GisWorkbench")
    form_sel = "#gis-report" if new_ui else ".leaflet-popup form.gis-report"
    x, y = page.evaluate(
        f"(() => {{ const p = gisMap.map.latLngToContainerPoint([{lat}, {lon}]);"
        " const r = gisMap.map.getContainer().getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()"
    )
    started = time.perf_counter()
    page.mouse.click(x, y)
    clicks += 1
    page.wait_for_selector(form_sel, timeout=10_000)
    page.wait_for_timeout(150)  # the utility of what was clicked (new) arrives
    hidden = form_hidden_part(page, form_sel)
    utility = page.locator(f"{form_sel} select[name=utility]")
    shown = utility.input_value()
    wrong_preselect = bool(shown) and shown != call["utility"]
    if shown != call["utility"]:
        chip = page.locator(f"{form_sel} .gis-chip[data-utility='{call['utility']}']")
        if chip.count():  # one click on the utility's chip
            chip.click()
            clicks += 1
        else:  # open the list, choose
            utility.select_option(call["utility"])
            clicks += 2
    page.locator(f"{form_sel} textarea[name=description]").fill(DESCRIPTION)
    address = f"ул. Штормовая, {int(lon * 1e4) % 97 + 1}"
    page.locator(f"{form_sel} input[name=address]").fill(address)
    keys += len(DESCRIPTION) + len(address) + 1  # and a Tab between the fields
    with page.expect_response(lambda r: r.request.method == "POST", timeout=15_000) as answer:
        if new_ui:
            page.locator(f"{form_sel} input[name=address]").press("Enter")
            keys += 1
        else:
            button = f"{form_sel} button[type=submit]"
            if covered(page, button):
                # A person drags the map until the button is out from under the panel.
                moves += 1
                page.evaluate("gisMap.map.panBy([-380, 220], {animate: false}) && null")
                page.wait_for_timeout(200)
            page.locator(button).click(force=True)
            clicks += 1
    created = answer.value.json()
    page.wait_for_selector(f"#gis-card[data-incident='{created['id']}']", state="attached",
                           timeout=15_000)  # fmt: skip
    seconds = time.perf_counter() - started
    page.evaluate("gisWorkbench.loadQueue()")  # the queue's own refresh, without the wait
    page.wait_for_timeout(300)
    in_queue = page.locator(f".gis-queue-item[data-incident='{created['id']}']").count() > 0
    return {
        "incident": created["id"],
        "status": created["status"],
        "utility_ok": created["utility"] == call["utility"],
        "clicks": clicks,
        "keys": keys,
        "map_moves": moves,
        "wrong_preselect": wrong_preselect,
        "form_partly_hidden": hidden,
        "in_queue": in_queue,
        "seconds": round(seconds, 3),
        "klm_seconds": round(THINK_S + (clicks + moves) * CLICK_S + keys * KEY_S, 2),
    }


def storm(base: str, storm_calls: list[dict]) -> list[dict]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                      else r.abort())  # fmt: skip
        page = context.new_page()
        page.goto(f"{base}/login?next=/map/gatchina")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", "demo-2026")
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
        results = []
        for call in storm_calls:
            results.append(one_report(page, call))
            # Between calls the dispatcher closes the card (a click) only if it is in the way:
            # the next click on the map works with it open, so nothing is counted here.
        browser.close()
    return results


def summary(rows: list[dict]) -> dict:
    def mean(key):
        return round(statistics.mean(r[key] for r in rows), 2)

    return {
        "reports": len(rows),
        "clicks_per_report": mean("clicks"),
        "map_moves_per_report": mean("map_moves"),
        "keys_per_report": mean("keys"),
        "seconds_per_report_machine": mean("seconds"),
        "seconds_per_report_median": round(statistics.median(r["seconds"] for r in rows), 3),
        "klm_seconds_per_report": mean("klm_seconds"),
        "wrong_utility_preselected": sum(r["wrong_preselect"] for r in rows),
        "form_partly_hidden": sum(r["form_partly_hidden"] for r in rows),
        # A duplicate is merged into its first report (in the queue), so it is not missing.
        "missing_from_queue": sum(not r["in_queue"] and r["status"] != "duplicate" for r in rows),
        "duplicates_merged": sum(r["status"] == "duplicate" for r in rows),
        "saved_with_caller_utility": sum(r["utility_ok"] for r in rows),
    }


def run(code: Path, label: str, url: str) -> dict:
    build(url)
    storm_calls = calls(url)
    port = free_port()
    server = serve(code, url, port)
    try:
        rows = storm(f"http://127.0.0.1:{port}", storm_calls)
    finally:
        server.terminate()
        server.wait(timeout=20)
    result = {"label": label, "summary": summary(rows), "reports": rows, "calls": storm_calls}
    print(label, json.dumps(result["summary"], ensure_ascii=False))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a commit to run the same storm on first (the old UI)")
    parser.add_argument("--database", default="gis_app_bench_storm")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results-storm.json"))
    args = parser.parse_args()
    url = bench_url(args.database)
    runs = []
    if args.before:
        tree = Path(tempfile.mkdtemp(prefix="storm-before-"))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                        args.before], check=True, capture_output=True)  # fmt: skip
        try:
            modules = ROOT / "static" / "node_modules"
            if modules.exists() and not (tree / "static" / "node_modules").exists():
                (tree / "static" / "node_modules").symlink_to(modules)
            runs.append(run(tree, f"before ({args.before})", url))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)  # fmt: skip
            shutil.rmtree(tree, ignore_errors=True)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    runs.append(run(ROOT, f"after ({head})", url))
    out = {"calls": CALLS, "viewport": "1400x900", "user": USER, "runs": runs}
    if len(runs) == 2:
        b, a = runs[0]["summary"], runs[1]["summary"]
        out["ratio_after_to_before"] = {
            k: round(a[k] / b[k], 2) if b[k] else None
            for k in ("clicks_per_report", "klm_seconds_per_report", "seconds_per_report_machine")
        }
        print("after/before", json.dumps(out["ratio_after_to_before"]))
    Path(args.out).write_text(
        json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
