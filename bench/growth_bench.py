"""Growth benchmark (issue 17, item 3): what each cost does as network_features grows from 1 to
10 million rows. Run once per database made by serving_generate.py, e.g.

    .venv/bin/python bench/serving_generate.py --features 1000000 --database gis_app_bench
    .venv/bin/python bench/serving_generate.py --features 10000000 --database gis_app_bench10m
    .venv/bin/python bench/growth_bench.py --database gis_app_bench --database gis_app_bench10m

The extra copies of the 10M set lie in more grid rows north of each town (serving_generate.py),
so the Gatchina area used below is about as dense at 10M as at 1M: the figures show what the
size of the table and of its indexes costs a query of the same answer, which is the question
when a second oblast or ten more towns join the same database. Measured in-process, the
service's own functions on one connection (no HTTP; bench/tiles_bench.py and serving_bench.py
measure the HTTP side):

- a page: 1,000 and 10,000 road segments of a bbox around Gatchina (features.feature_batches);
- tiles: the 7x7 block of z14 tiles around Gatchina and the 3x3 block at z10 (tiles.tile_mvt);
- the responsible operator at 300 points beside features around Gatchina (operators.find_responsible);
- an export: `gis-app export --municipality gatchinsky -f gpkg` (every layer, one district);
- an import of 200,000 water mains (import_bench.make_gpkg) by a new operator into the big
  table (imports.run_import, every check on); the rows are deleted again afterwards;
- the database, table and index sizes.

Writes bench/results-growth-<database>.json and prints a Markdown row set. With --before-after,
only the page: the statement of before issue 17's second pass against today's, alternating
(bench/results-growth-pages-before-after.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_bench import make_gpkg  # noqa: E402
from bench.incidents_bench import sample_points  # noqa: E402
from bench.serving_generate import bench_url  # noqa: E402
from bench.tiles_bench import tile_block  # noqa: E402
from gis_app import config  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

GATCHINA = (29.62, 59.32, 30.62, 59.82)
REGISTRY = LayerRegistry.from_dir(ROOT / "layers")
IMPORT_OPERATOR = "bench-growth-import"


def ms(seconds: list[float]) -> dict:
    """p50, p95 and mean in ms."""
    ordered = sorted(seconds)
    return {"n": len(ordered), "p50_ms": round(1000 * statistics.median(ordered), 2),
            "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
            "mean_ms": round(1000 * statistics.mean(ordered), 2)}  # fmt: skip


def sizes(engine) -> dict:
    """Database, table (heap + TOAST) and index sizes in MB, and the row count."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_database_size(current_database()), pg_table_size('network_features'),"
                " pg_indexes_size('network_features'), (SELECT count(*) FROM network_features)"
            )
        ).one()
        indexes = conn.execute(
            text(
                "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index"
                " WHERE indrelid = 'network_features'::regclass ORDER BY 1"
            )
        ).all()
    mb = lambda b: round(b / 1e6, 1)  # noqa: E731
    return {"features": row[3], "database_mb": mb(row[0]), "table_mb": mb(row[1]),
            "indexes_mb": mb(row[2]), "index_mb": {name: mb(size) for name, size in indexes}}  # fmt: skip


def pages(engine, limit: int, count: int) -> dict:
    """A bbox page of road_segments around Gatchina, `count` times."""
    from gis_app.features.pages import Query, feature_batches
    from gis_app.features.sources import layer_source

    source = layer_source(REGISTRY.get("road_segments"))
    times = []
    with Session(engine) as session:
        for i in range(count + 2):
            started = time.perf_counter()
            rows = sum(
                len(b) for b in feature_batches(session, source, Query(bbox=GATCHINA), limit)
            )
            if i >= 2:  # two warm-up pages
                times.append(time.perf_counter() - started)
            assert rows == limit, rows
            session.rollback()
    return ms(times)


def page_before_after(engines: dict, limit: int, count: int, rounds: int) -> dict:
    """The Gatchina page of road_segments as the service asked for it before issue 17's second
    pass (one statement: the operator joined to every match, ORDER BY id LIMIT; no (layer_id,
    id) index, dropped inside a transaction that is rolled back) and as it asks now
    (features.page_sql), alternating round by round on each database."""
    from gis_app.features.pages import Query, page_sql
    from gis_app.features.sources import CRS84, CRSES, feature_json_sql, layer_source

    source = layer_source(REGISTRY.get("road_segments"))
    now_sql, params = page_sql(source, Query(bbox=GATCHINA), limit)
    envelope = "ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, :bsrid)"
    before_sql = (
        f"SELECT f.id, {feature_json_sql(source, CRSES[CRS84])} FROM network_features f"
        " JOIN operators o ON o.id = f.operator_id WHERE f.layer_id = :layer"
        f" AND ST_Intersects(f.geom, {envelope}) ORDER BY f.id LIMIT :limit"
    )
    settings = "SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0"
    times: dict = {db: {"before": [], "now": []} for db in engines}
    for _ in range(rounds):
        for db, engine in engines.items():
            for name, sql in (("before", before_sql), ("now", now_sql)):
                with engine.connect() as conn:
                    conn.exec_driver_sql(settings)
                    if name == "before":
                        conn.exec_driver_sql("DROP INDEX IF EXISTS network_features_layer_id")
                    for i in range(count + 1):
                        started = time.perf_counter()
                        rows = conn.execute(text(sql), params).all()
                        if i:  # one warm-up
                            times[db][name].append(time.perf_counter() - started)
                        assert len(rows) == limit, len(rows)
                    conn.rollback()  # the index is back
    return {db: {name: ms(values) for name, values in sides.items()} for db, sides in times.items()}


def tiles(engine, z: int, grid: int, rounds: int = 2) -> dict:
    """The grid x grid block of tiles at zoom z around Gatchina, `rounds` times (after a warm-up)."""
    from gis_app.features.tiles import tile_mvt

    layer = REGISTRY.get("road_segments")
    block = tile_block(z, grid)
    times, size = [], []
    with Session(engine) as session:
        for r in range(rounds + 1):
            for _, x, y in block:
                started = time.perf_counter()
                data = tile_mvt(session, layer, z, x, y)
                if r:
                    times.append(time.perf_counter() - started)
                    size.append(len(data))
                session.rollback()
    return {**ms(times), "mean_bytes": int(statistics.mean(size))}


def lookups(url: str, engine, n: int = 300) -> dict:
    """find_responsible beside features around Gatchina."""
    from gis_app.operators.responsible import find_responsible

    w, s, e, nn = GATCHINA
    where = f"geom && ST_MakeEnvelope({w}, {s}, {e}, {nn}, 4326)"
    points = sample_points(config.sqlalchemy_url(url), n, where, percent=1.0)
    times = []
    with Session(engine) as session:
        for u, x, y in points[:30]:
            find_responsible(session, REGISTRY, u, x, y)
        for u, x, y in points:
            started = time.perf_counter()
            find_responsible(session, REGISTRY, u, x, y)
            times.append(time.perf_counter() - started)
    return ms(times)


def export_district(url: str) -> dict:
    """`gis-app export --municipality gatchinsky -f gpkg`: seconds, features, MB."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "gatchinsky.gpkg"
        started = time.perf_counter()
        result = subprocess.run([str(ROOT / ".venv/bin/gis-app"), "export", "--municipality",
                                 "gatchinsky", "-f", "gpkg", "-o", str(target)],
                                env={**os.environ, "DATABASE_URL": url}, capture_output=True,
                                text=True, check=True)  # fmt: skip
        seconds = time.perf_counter() - started
        return {"seconds": round(seconds, 1), "summary": result.stdout.strip(),
                "mb": round(target.stat().st_size / 1e6, 1)}  # fmt: skip


def import_200k(engine, n: int = 200_000) -> dict:
    """A new operator's 200,000 water mains imported into the big table (all checks), then
    deleted again (not timed)."""
    from gis_app.imports import ImportRequest, run_import

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM operators WHERE slug = :s"), {"s": IMPORT_OPERATOR})
        operator_id = conn.execute(
            text(
                "INSERT INTO operators (slug, full_name, short_name) VALUES (:s, :s, :s)"
                " RETURNING id"
            ),
            {"s": IMPORT_OPERATOR},
        ).scalar_one()
        conn.execute(
            text("INSERT INTO operator_utilities (operator_id, utility_code) VALUES (:o, 'water')"),
            {"o": operator_id},
        )
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "growth_water_mains.gpkg"
            make_gpkg(path, n)
            with Session(engine) as session:
                req = ImportRequest(layer=REGISTRY.get("water_mains"), operator_id=operator_id,
                                    path=path, mode="replace", file_name=path.name,
                                    username="bench")  # fmt: skip
                started = time.perf_counter()
                report = run_import(session, req)
                seconds = time.perf_counter() - started
        assert report["added"] == n and report["rejected"] == 0, report
        return {"features": n, "seconds": round(seconds, 1), "features_s": round(n / seconds)}
    finally:
        with engine.begin() as conn:  # the operator's rows go with it (ON DELETE CASCADE)
            conn.execute(text("DELETE FROM imports WHERE operator_id = :o"), {"o": operator_id})
            conn.execute(text("DELETE FROM operators WHERE id = :o"), {"o": operator_id})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE network_features"))


def measure(
    databases: list[str], skip_import: bool, rounds: int = 3, only: set[str] | None = None
) -> list[dict]:
    """Every figure for each database. The short costs (pages, tiles, look-ups) are measured in
    rounds that alternate between the databases, so the load of a shared machine weighs on all
    of them alike; each figure is the median of the rounds' medians. Export and import run once
    per database, one database after the other."""
    urls = {db: bench_url(db) for db in databases}
    engines = {db: create_engine(config.sqlalchemy_url(urls[db])) for db in databases}
    results = {db: {"database": db, "sizes": sizes(engines[db])} for db in databases}
    costs = {
        "page_1000": lambda db: pages(engines[db], 1000, 10),
        "page_10000": lambda db: pages(engines[db], 10000, 3),
        "tile_z14": lambda db: tiles(engines[db], 14, 7, rounds=1),
        "tile_z10": lambda db: tiles(engines[db], 10, 3, rounds=1),
        "lookup": lambda db: lookups(urls[db], engines[db], 150),
    }
    for name, cost in costs.items():
        if only and name not in only:
            continue
        runs: dict[str, list[dict]] = {db: [] for db in databases}
        for _ in range(rounds):
            for db in databases:
                runs[db].append(cost(db))
        for db in databases:
            best = sorted(runs[db], key=lambda r: r["p50_ms"])[len(runs[db]) // 2]
            results[db][name] = {**best, "rounds_p50_ms": [r["p50_ms"] for r in runs[db]]}
            print(db, name, results[db][name], flush=True)
    for db in databases:
        if only and "export" not in only:
            break
        results[db]["export_gatchinsky"] = export_district(urls[db])
        print(db, "export", results[db]["export_gatchinsky"], flush=True)
    if not skip_import and (not only or "import" in only):
        for db in databases:
            results[db]["import_200k"] = import_200k(engines[db])
            print(db, "import", results[db]["import_200k"], flush=True)
    for db in databases:
        engines[db].dispose()
        path = ROOT / "bench" / f"results-growth-{db}.json"
        if only and path.exists():  # a partial run updates its figures and keeps the others
            results[db] = {**json.loads(path.read_text()), **results[db]}
        path.write_text(json.dumps(results[db], indent=2))
    return [results[db] for db in databases]


def main() -> None:
    """Measure each database; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", action="append", required=True)
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--before-after",
        action="store_true",
        help="only the Gatchina page as the service asked for it before and as it does now",
    )
    parser.add_argument(
        "--only",
        help="comma-separated costs to measure, e.g. page_1000,page_10000 (others kept as they "
        "were in the results files): page_1000 page_10000 tile_z14 tile_z10 lookup export import",
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if args.before_after:
        engines = {db: create_engine(config.sqlalchemy_url(bench_url(db))) for db in args.database}
        found = {f"page_{n}": page_before_after(engines, n, 10 if n < 10000 else 3, args.rounds)
                 for n in (1000, 10000)}  # fmt: skip
        print(json.dumps(found, indent=2))
        (ROOT / "bench" / "results-growth-pages-before-after.json").write_text(
            json.dumps({"databases": args.database, **found}, indent=2)
        )
        return
    rows = measure(args.database, args.skip_import, args.rounds, only)
    print("\n| cost | " + " | ".join(f"{r['sizes']['features']:,}" for r in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    line = lambda label, f: print(f"| {label} | " + " | ".join(f(r) for r in rows) + " |")  # noqa: E731
    line("page 1,000 p50 ms", lambda r: str(r["page_1000"]["p50_ms"]))
    line("page 10,000 p50 ms", lambda r: str(r["page_10000"]["p50_ms"]))
    line("tile z14 p50 ms", lambda r: str(r["tile_z14"]["p50_ms"]))
    line("tile z10 p50 ms", lambda r: str(r["tile_z10"]["p50_ms"]))
    line("responsible p50 ms", lambda r: str(r["lookup"]["p50_ms"]))
    line("export Gatchinsky s", lambda r: str(r["export_gatchinsky"]["seconds"]))
    line("import 200k s", lambda r: str(r.get("import_200k", {}).get("seconds", "—")))
    line("database MB", lambda r: str(r["sizes"]["database_mb"]))


if __name__ == "__main__":
    main()
