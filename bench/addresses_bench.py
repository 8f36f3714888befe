"""Address search benchmark (issue 13): 1,000,000 synthetic addresses, GET /api/addresses p99
over HTTP with one client, side by side with the plain-SQL floor.

    .venv/bin/python bench/addresses_bench.py [--addresses 1000000] [--queries 1000] [--keep]

Makes its own database (gis_app_bench_addresses: migrated, demo municipalities), generates the
addresses deterministically (seed 2026: 400 settlements × 50 streets × 50 houses; the street
names repeat across settlements as real ones do: "Садовая", "Школьная", …; numbers with letters
and корпус), loads them through the import's own path (load_rows: the COPY, the SQL normalisers,
the generation swap; only the OSM reading is left out), then asks 1,000 queries written as
dispatchers write them (type words, "д.", typos, word order; half with near=lon,lat) through
gunicorn (1 worker, kept-alive connection). The floor is one hand-written SQL statement per
query (trigram match on the names, their streets, the exact number), on a kept psycopg2
connection, no HTTP, no ranking; and GET /api/utilities (a token login, Flask, one tiny query)
shows what any request of the service costs on the same server.
Writes bench/results-addresses.json and prints it.
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
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving_generate import bench_url, recreate  # noqa: E402
from gis_app import config, migrate  # noqa: E402
from gis_app.accounts.users import create_token  # noqa: E402
from gis_app.addresses import load_rows, parse_query  # noqa: E402
from gis_app.demo.load import load_demo  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

DATABASE = "gis_app_bench_addresses"
STEMS = (
    "Садовая Школьная Лесная Советская Молодёжная Центральная Новая Полевая Набережная Заречная "
    "Зелёная Луговая Парковая Мира Ленина Гагарина Пушкина Чехова Лермонтова Некрасова "
    "Комсомольская Пионерская Кирова Октябрьская Первомайская Победы Железнодорожная Солнечная "
    "Озёрная Береговая Рабочая Строителей Труда Свободы Речная Дачная Сосновая Берёзовая "
    "Кленовая Рябиновая Вокзальная Почтовая Майская Северная Южная Восточная Западная Горная "
    "Радищева Тургенева Гоголя Толстого Маяковского Есенина Суворова Кутузова Жукова Фрунзе "
    "Чапаева Шевченко Островского Горького Менделеева Ломоносова Павлова Циолковского Королёва "
    "Титова Курчатова Вавилова Мичурина Карла Маркса Энгельса Дзержинского Калинина Куйбышева"
).split()
TYPES = ["улица", "переулок", "проспект", "шоссе", "бульвар", "проезд"]
SETTLEMENT_STEMS = ["Ново", "Старо", "Красно", "Бело", "Сосново", "Лесо", "Озеро", "Камен"]
SETTLEMENT_ENDS = ["поле", "горск", "бор", "дол", "во", "ково", "ицы", "ино"]


def settlement_names(n: int) -> list[str]:
    """n distinct settlement names."""
    names = [s + e for s in SETTLEMENT_STEMS for e in SETTLEMENT_ENDS]
    out, i = [], 0
    while len(out) < n:
        base = names[i % len(names)]
        out.append(base if i < len(names) else f"{base} {i // len(names) + 1}")
        i += 1
    return out


def generate_rows(total: int, seed: int = 2026) -> tuple[list[tuple], list[dict]]:
    """Rows for load_rows (kind, osm_id, street, housenumber, city, EWKB hex) and, per address,
    what it is (for the queries). Deterministic for a seed."""
    import shapely

    rng = random.Random(seed)
    houses_per_street, streets_per_settlement = 50, 50
    settlements = settlement_names(max(1, total // (houses_per_street * streets_per_settlement)))
    rows: list[tuple] = []
    truth: list[dict] = []
    osm_id = 0
    for settlement in settlements:
        cx, cy = rng.uniform(28.2, 35.3), rng.uniform(58.7, 61.1)
        used: set[str] = set()
        while len(used) < streets_per_settlement:
            stem = rng.choice(STEMS)
            prefix = rng.choice(["", "", "", "Малая ", "Большая ", "1-я ", "2-я "])
            used.add(f"{prefix}{stem} {rng.choice(TYPES)}" if rng.random() < 0.5 else
                     f"{rng.choice(TYPES)} {prefix}{stem}")  # fmt: skip
        for s_index, street in enumerate(sorted(used)):
            for n in range(1, houses_per_street + 1):
                number = str(n)
                r = rng.random()
                if r < 0.08:
                    number += rng.choice("АБВ")
                elif r < 0.14:
                    number += f" к{rng.randint(1, 3)}"
                lon = cx + (s_index - 25) * 0.0015 + rng.uniform(-0.0004, 0.0004)
                lat = cy + (n - 25) * 0.0004 + rng.uniform(-0.0002, 0.0002)
                osm_id += 1
                rows.append((lon, lat, street, number, settlement, osm_id))
                if len(rows) >= total:
                    break
            if len(rows) >= total:
                break
        if len(rows) >= total:
            break
    geoms = shapely.to_wkb(
        shapely.set_srid(shapely.points([(r[0], r[1]) for r in rows]), 4326),
        hex=True,
        include_srid=True,
    )
    out = []
    for (lon, lat, street, number, settlement, oid), geom in zip(rows, geoms, strict=True):
        out.append(("building", str(oid), street, number, settlement, geom))
        truth.append({"street": street, "number": number, "settlement": settlement,
                      "lon": lon, "lat": lat})  # fmt: skip
    return out, truth


def typo(word: str, rng: random.Random) -> str:
    """One letter of a word replaced (a caller's misspelling)."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + rng.choice("аеиоуя") + word[i + 1 :]


def queries(truth: list[dict], count: int, seed: int = 7) -> list[tuple[str, str | None]]:
    """(q, near) pairs written the ways dispatchers write addresses."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a = rng.choice(truth)
        words = [w for w in a["street"].split() if w not in TYPES]
        name = " ".join(words)
        number = a["number"].replace(" ", "")
        form = rng.randrange(5)
        if form == 0:
            q = f"{name} {number}"
        elif form == 1:
            q = f"ул. {name}, д.{number}"
        elif form == 2:
            q = f"{name.lower()} д {number}"
        elif form == 3:
            q = f"{typo(name, rng)} {number}"
        else:
            q = f"{a['settlement']}, {number} {name}"
        near = f"{a['lon'] + 0.01:.5f},{a['lat'] + 0.01:.5f}" if rng.random() < 0.5 else None
        out.append((q, near))
    return out


FLOOR_SQL = """
SELECT a.id
FROM (SELECT norm FROM address_names
      WHERE generation = %(gen)s AND kind = 'street' AND %(street)s <%% norm
      ORDER BY word_similarity(%(street)s, norm) DESC LIMIT 10) n
JOIN address_streets st ON st.generation = %(gen)s AND st.norm = n.norm
JOIN addresses a ON a.street_id = st.id AND a.housenumber_norm = %(number)s
LIMIT 10
"""


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), in milliseconds."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)


def summary(values: list[float]) -> dict:
    """p50/p95/p99/max/mean of seconds, in milliseconds."""
    return {
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
        "max_ms": round(max(values) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2),
    }


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    """Generate, load, measure, write bench/results-addresses.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="reuse the loaded database")
    args = parser.parse_args()
    url = bench_url(DATABASE)
    engine = create_engine(config.sqlalchemy_url(url))
    result: dict = {"addresses": args.addresses, "queries": args.queries}
    started = time.monotonic()
    rows, truth = generate_rows(args.addresses)
    result["generate_s"] = round(time.monotonic() - started, 1)
    if not args.keep:
        recreate(url)
        migrate.upgrade(url)
        engine = create_engine(config.sqlalchemy_url(url))
        with Session(engine) as session, session.begin():
            load_demo(session, LayerRegistry.from_dir(ROOT / "layers"))
        started = time.monotonic()
        with Session(engine) as session, session.begin():
            loaded = load_rows(session, rows, "bench")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE address_streets"))
            conn.execute(text("VACUUM ANALYZE addresses"))
        result["load_s"] = round(time.monotonic() - started, 1)
        result["streets"], result["loaded"] = loaded.streets, loaded.addresses
    del rows
    with Session(engine) as session, session.begin():
        token = create_token(session, "dispatcher-oblast", "bench")
        gen = session.execute(text("SELECT id FROM address_generations WHERE is_current")).scalar()
    asked = queries(truth, args.queries)

    # The floor: one hand-written statement per query on a kept connection.
    raw = engine.raw_connection()
    cur = raw.cursor()
    cur.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.3', false)")
    floor, floor_hits = [], 0
    for q, _ in asked:
        parsed = parse_query(q)
        t0 = time.perf_counter()
        cur.execute(FLOOR_SQL, {"gen": gen, "street": parsed.street, "number": parsed.housenumber})
        floor_hits += bool(cur.fetchall())
        floor.append(time.perf_counter() - t0)
    raw.close()

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url}
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "1", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        for q, _near in asked[:50]:  # warm-up: the worker's imports, the first plans
            conn.request("GET", f"/api/addresses?q={quote(q)}", headers=headers)
            conn.getresponse().read()
        http_times, found_right = [], 0
        for (q, near), a in zip(asked, queries_truth(truth, args.queries), strict=True):
            path = f"/api/addresses?limit=10&q={quote(q)}" + (f"&near={near}" if near else "")
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            http_times.append(time.perf_counter() - t0)
            assert response.status == 200, body[:300]
            features = json.loads(body)["features"]
            labels = [f["properties"]["label"] for f in features]
            found_right += f"{a['settlement']}, {a['street']}, {a['number']}" in labels
        # The service's own floor per request (login by token, Flask, one tiny query).
        trivial = []
        for _ in range(len(asked)):
            t0 = time.perf_counter()
            conn.request("GET", "/api/utilities", headers=headers)
            conn.getresponse().read()
            trivial.append(time.perf_counter() - t0)
        result["http_trivial_endpoint"] = summary(trivial)
        conn.close()
    finally:
        server.terminate()
        server.wait(10)
    result["http"] = summary(http_times)
    result["floor_sql"] = summary(floor)
    result["p99_ratio_http_to_floor"] = round(
        result["http"]["p99_ms"] / max(result["floor_sql"]["p99_ms"], 0.01), 1
    )
    result["right_address_in_answer"] = f"{found_right}/{len(asked)}"
    # The machine is shared: the load during the run says how far to trust the milliseconds.
    result["load_average_1_5_15"] = [round(x, 1) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    result["floor_found_something"] = f"{floor_hits}/{len(asked)}"
    out = ROOT / "bench" / "results-addresses.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


def queries_truth(truth: list[dict], count: int, seed: int = 7) -> list[dict]:
    """The address each query of queries() was written from (same seed, same draws)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a = rng.choice(truth)
        words = [w for w in a["street"].split() if w not in TYPES]
        form = rng.randrange(5)
        if form == 3:
            typo(" ".join(words), rng)
        rng.random()
        out.append(a)
    return out


if __name__ == "__main__":
    main()
