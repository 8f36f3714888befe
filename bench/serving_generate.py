"""Deterministic 1,000,000-feature oblast dataset for the serving benchmark (issue 3).

Re-creates the database `gis_app_bench` (or --database) on the server of DATABASE_URL (or
var/database_url), migrates it, loads the demo data (about 12,000 features of four towns, made
deterministically by gis_app/demo), then adds shifted copies of those networks around each town
until the total is --features. Copy k is shifted by a fixed grid step, so every run makes the same
rows with the same ids. It never touches the app's own database.

    .venv/bin/python bench/serving_generate.py [--features 1000000] [--database gis_app_bench]

Also creates, for the peers (pygeoapi, tipg), one flat view per layer `bench_<layer>` with typed
columns (the same rows and properties our /ogc serves).
"""

from __future__ import annotations

import argparse
import sys
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

SQL_TYPES = {
    "int": "bigint",
    "float": "double precision",
    "bool": "boolean",
    "str": "text",
    "date": "date",
}


def bench_url(database: str) -> str:
    """The URL of the bench database on the app's server."""
    base = make_url(config.load_config()["DATABASE_URL"])
    return base.set(database=database).render_as_string(hide_password=False)


def recreate(url: str) -> None:
    """Drop and create the database of `url`."""
    target = make_url(config.sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def _drop_secondary_indexes(conn, table: str) -> list[str]:
    """Drop the table's indexes and unique constraints except the primary key; return the
    statements that create them again."""
    rebuild = []
    for name, definition in conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:t AS regclass) AND contype = 'u'"
        ),
        {"t": table},
    ):
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in conn.execute(
        text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = CAST(:t AS regclass) AND NOT x.indisprimary"
        ),
        {"t": table},
    ):
        conn.execute(text(f'DROP INDEX "{name}"'))
        rebuild.append(definition)
    return rebuild


def generate(url: str, features: int) -> dict:
    """Build the dataset; return counts and timings."""
    started = time.monotonic()
    recreate(url)
    migrate.upgrade(url)
    registry = LayerRegistry.from_dir(ROOT / "layers")
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        load_demo(session, registry)
    with engine.begin() as conn:
        base = conn.execute(text("SELECT count(*) FROM network_features")).scalar()
        copies = -(-(features - base) // base)
        # Bulk load: build the secondary indexes once after the insert instead of maintaining
        # them row by row (at 10M rows this is hours against minutes on two cores).
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        rebuild = _drop_secondary_indexes(conn, "network_features")
        # Copy k sits on a 9-column grid around each town: 0.12° of longitude, 0.06° of latitude
        # apart (about 6.7 km), so every town becomes a cluster of dense networks.
        conn.execute(
            text(
                """
                INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,
                    name, attributes, is_demo, updated_at, geom)
                SELECT f.layer_id, f.utility_code, f.operator_id, f.external_id || '-C' || k,
                       f.name, f.attributes, true, f.updated_at,
                       ST_Translate(f.geom, ((k % 9) - 4) * 0.12 + 0.012, ((k / 9) - 4) * 0.06 + 0.006)
                FROM generate_series(1, :copies) AS k
                CROSS JOIN LATERAL (SELECT * FROM network_features WHERE NOT external_id LIKE '%-C%'
                                    ORDER BY id) f
                ORDER BY k, f.id
                LIMIT :extra
                """
            ),
            {"copies": copies, "extra": features - base},
        )
        for statement in rebuild:
            conn.execute(text(statement))
        conn.execute(text("ANALYZE network_features"))
        total = conn.execute(text("SELECT count(*) FROM network_features")).scalar()
        for layer in registry:
            columns = ", ".join(
                f"(f.attributes->>'{p.name}')::{SQL_TYPES[p.type]} AS {p.name}"
                for p in layer.properties
            )
            conn.execute(
                text(
                    f"CREATE OR REPLACE VIEW bench_{layer.id} AS SELECT f.id, f.external_id, f.name,"
                    f" o.short_name AS operator, f.operator_id, f.updated_at, {columns}, f.geom"
                    f" FROM network_features f JOIN operators o ON o.id = f.operator_id"
                    f" WHERE f.layer_id = '{layer.id}'"
                )
            )
    engine.dispose()
    return {"features": total, "seconds": round(time.monotonic() - started, 1)}


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=1_000_000)
    parser.add_argument("--database", default="gis_app_bench")
    args = parser.parse_args()
    result = generate(bench_url(args.database), args.features)
    print(f"{args.database}: {result['features']} features in {result['seconds']} s")


if __name__ == "__main__":
    main()
