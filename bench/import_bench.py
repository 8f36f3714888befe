"""Import benchmark: a generated 200,000-feature GeoPackage loaded by `gis-app import` (with every
check on) and by `ogr2ogr -f PostgreSQL`, side by side, into one scratch database.

    .venv/bin/python bench/import_bench.py [--features 200000] [--database gis_app_bench_import]

The database (default gis_app_bench_import, on the cluster of DATABASE_URL or var/database_url)
is dropped and re-created, migrated and loaded with the demo data; never the app's own database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gis_app import config, migrate  # noqa: E402
from gis_app.demo.load import load_demo  # noqa: E402
from gis_app.imports import ImportRequest, run_import  # noqa: E402
from gis_app.layers import LayerRegistry  # noqa: E402

MATERIALS = np.array(["cast_iron", "steel", "polyethylene", "asbestos_cement", "pvc"])
DIAMETERS = np.array([50, 63, 100, 110, 150, 200, 250, 300, 400, 500])
OPERATOR = "demo-vodokanal-gatchina"


def make_gpkg(path: Path, n: int, seed: int = 2026) -> None:
    """n water mains of 2-5 vertices around Gatchina, with attributes; deterministic."""
    rng = np.random.default_rng(seed)
    starts = np.column_stack([rng.uniform(29.60, 30.20, n), rng.uniform(59.35, 59.55, n)])
    counts = rng.integers(2, 6, n)
    steps = rng.normal(0, 0.0006, (counts.sum(), 2))
    first = np.cumsum(counts) - counts  # index of each feature's first vertex
    walk = np.cumsum(steps, axis=0)
    base = np.repeat(walk[first] - steps[first], counts, axis=0)  # the walk before each feature
    coords = np.repeat(starts, counts, axis=0) + walk - base
    geoms = shapely.linestrings(coords, indices=np.repeat(np.arange(n), counts))
    frame = gpd.GeoDataFrame(
        {
            "external_id": [f"BENCH-{i:07d}" for i in range(n)],
            "name": [f"Водовод № {i}" for i in range(n)],
            "diameter_mm": DIAMETERS[rng.integers(0, len(DIAMETERS), n)],
            "material": MATERIALS[rng.integers(0, len(MATERIALS), n)],
            "dead_end": rng.random(n) < 0.1,
            "year_built": rng.integers(1950, 2025, n),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    frame.to_file(path, driver="GPKG", layer="water_mains")


def prepare_database(url: str) -> None:
    """Drop, create, migrate and load the demo data into the scratch database."""
    target = make_url(config.sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    migrate.upgrade(url)
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        load_demo(session, LayerRegistry.from_dir(config.PROJECT_ROOT / "layers"))
    engine.dispose()


def run_ours(url: str, path: Path, n: int, again: bool = False) -> float:
    """Seconds for the app's import (read, map, validate, reproject, COPY, checks, write, commit);
    `again`: the same file once more, as a utility re-publishes its layer (nothing changed)."""
    engine = create_engine(config.sqlalchemy_url(url))
    layer = LayerRegistry.from_dir(config.PROJECT_ROOT / "layers").get("water_mains")
    with Session(engine) as session:
        operator_id = session.execute(
            text("SELECT id FROM operators WHERE slug = :s"), {"s": OPERATOR}
        ).scalar_one()
        req = ImportRequest(layer=layer, operator_id=operator_id, path=path, mode="replace",
                            file_name=path.name, username="bench")  # fmt: skip
        started = time.perf_counter()
        report = run_import(session, req)
        elapsed = time.perf_counter() - started
    engine.dispose()
    key = "unchanged" if again else "added"
    assert report[key] == n and report["rejected"] == 0, report
    return elapsed


def run_ogr2ogr(url: str, path: Path) -> float:
    """Seconds for `ogr2ogr -f PostgreSQL` loading the same file into a table of its own."""
    target = make_url(config.sqlalchemy_url(url))
    dsn = (
        f"PG:dbname={target.database} host={target.host} port={target.port} user={target.username}"
    )
    env = {**os.environ, "PGPASSWORD": target.password or ""}
    command = ["ogr2ogr", "-f", "PostgreSQL", dsn, str(path), "-nln", "bench_ogr2ogr",
               "-overwrite", "-lco", "GEOMETRY_NAME=geom"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    elapsed = time.perf_counter() - started
    print("  $ PGPASSWORD=... " + " ".join(command), flush=True)
    return elapsed


INDEXED_TABLE = """
CREATE TABLE bench_ogr2ogr_indexed (
    ogc_fid serial PRIMARY KEY, layer_id varchar(64) NOT NULL DEFAULT 'water_mains',
    utility_code varchar(32) NOT NULL DEFAULT 'water', external_id text, name text,
    diameter_mm integer, material text, dead_end boolean, year_built integer,
    geom geometry(LineString, 4326) NOT NULL);
CREATE UNIQUE INDEX ON bench_ogr2ogr_indexed (layer_id, external_id);
CREATE INDEX ON bench_ogr2ogr_indexed USING gist (layer_id, geom);
"""


def run_ogr2ogr_indexed(url: str, path: Path) -> float:
    """Seconds for `ogr2ogr -append` into a table carrying network_features' indexes."""
    engine = create_engine(config.sqlalchemy_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_ogr2ogr_indexed"))
        conn.execute(text(INDEXED_TABLE))
    engine.dispose()
    target = make_url(config.sqlalchemy_url(url))
    dsn = (
        f"PG:dbname={target.database} host={target.host} port={target.port} user={target.username}"
    )
    env = {**os.environ, "PGPASSWORD": target.password or ""}
    # -append alone would INSERT row by row; COPY is what ogr2ogr uses for new tables.
    command = ["ogr2ogr", "--config", "PG_USE_COPY", "YES", "-f", "PostgreSQL", dsn, str(path), "-nln", "bench_ogr2ogr_indexed",
               "-append"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    elapsed = time.perf_counter() - started
    print("  $ PGPASSWORD=... " + " ".join(command), flush=True)
    return elapsed


def main() -> None:
    """Generate, load twice (ogr2ogr, then ours), print features per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=200_000)
    parser.add_argument("--database", default="gis_app_bench_import")
    args = parser.parse_args()
    base = make_url(config.sqlalchemy_url(config.load_config()["DATABASE_URL"]))
    if args.database == base.database:
        sys.exit(f"refusing to use the app's own database {base.database}")
    url = base.set(database=args.database).render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench_water_mains.gpkg"
        started = time.perf_counter()
        make_gpkg(path, args.features)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {args.features} features, {size_mb:.1f} MB, in {time.perf_counter() - started:.1f} s"
        )
        prepare_database(url)
        print(f"database {args.database} migrated, demo data loaded")
        ogr = run_ogr2ogr(url, path)
        indexed = run_ogr2ogr_indexed(url, path)
        ours = run_ours(url, path, args.features)
        again = run_ours(url, path, args.features, again=True)
    n = args.features
    print("\n| loader | seconds | features/s |\n|---|---:|---:|")
    print(f"| ogr2ogr -f PostgreSQL (GDAL) | {ogr:.2f} | {n / ogr:,.0f} |")
    print(
        f"| ogr2ogr -append into a table with network_features' indexes | {indexed:.2f} | {n / indexed:,.0f} |"
    )
    print(f"| gis-app import, mode replace, all checks | {ours:.2f} | {n / ours:,.0f} |")
    print(
        f"| gis-app import of the same file again (all unchanged) | {again:.2f} | {n / again:,.0f} |"
    )
    print(f"\nratio gis-app / ogr2ogr (fresh table): {ours / ogr:.2f}x (target: at most 2x)")
    print(f"ratio gis-app / ogr2ogr (same indexes): {ours / indexed:.2f}x")


if __name__ == "__main__":
    main()
