"""Writing the demo's rows in place, by their stable keys (slugs, external ids, area names), so a
re-load keeps every id, and with it every account, incident and link that points at a demo row.
A demo key already held by a non-demo row stops the load (DemoConflict): the demo never takes
over or changes a real row."""

from __future__ import annotations

import json

from psycopg2.extras import execute_values
from sqlalchemy import text
from sqlalchemy.orm import Session


class DemoConflict(RuntimeError):
    """A demo key (slug, OKTMO, INN, user name) is held by a row that is not demo data."""


def check_keys(session: Session, table: str, column: str, values: list) -> None:
    """Stop when any of `values` of `column` belongs to a non-demo row of `table`."""
    # text(): table and column are constants of this module's callers, never input.
    taken = session.execute(
        text(f"SELECT {column} FROM {table} WHERE NOT is_demo AND {column} = ANY(:v)"),
        {"v": [v for v in values if v is not None]},
    ).scalars()
    taken = sorted(map(str, taken))
    if taken:
        raise DemoConflict(
            f"{table}.{column} {', '.join(taken)} belong to real (non-demo) rows; the demo does"
            " not load over them (serve without the demo: GIS_APP_DEMO=never)"
        )


def upsert_municipality(cur, parent_id, place, wkb: str) -> int:
    """Insert or update one demo municipality by slug; its id (kept across loads)."""
    cur.execute(
        "INSERT INTO municipalities (parent_id, slug, kind, oktmo, name_ru, name_en, is_demo, geom)"
        " VALUES (%s, %s, %s, %s, %s, %s, true, ST_SetSRID(%s::geometry, 4326))"
        " ON CONFLICT (slug) DO UPDATE SET parent_id = EXCLUDED.parent_id, kind = EXCLUDED.kind,"
        " oktmo = EXCLUDED.oktmo, name_ru = EXCLUDED.name_ru, name_en = EXCLUDED.name_en,"
        " geom = EXCLUDED.geom, retired_at = NULL, retired_reason = NULL"
        " WHERE municipalities.is_demo RETURNING id",
        (parent_id, place.slug, place.kind, place.oktmo, place.name_ru, place.name_en, wkb),
    )
    return cur.fetchone()[0]


def upsert_operator(cur, op, inn: str, muni_ids: list[int]) -> int:
    """Insert or update one demo operator by slug, its utilities and its demo municipalities."""
    cur.execute(
        "INSERT INTO operators (slug, full_name, short_name, inn, dispatch_phone, dispatch_email,"
        " is_demo) VALUES (%s, %s, %s, %s, %s, %s, true)"
        " ON CONFLICT (slug) DO UPDATE SET full_name = EXCLUDED.full_name,"
        " short_name = EXCLUDED.short_name, inn = EXCLUDED.inn,"
        " dispatch_phone = EXCLUDED.dispatch_phone, dispatch_email = EXCLUDED.dispatch_email,"
        " retired_at = NULL, retired_reason = NULL, handed_over_to = NULL"
        " WHERE operators.is_demo RETURNING id",
        (op.slug, op.full_name, op.short_name, inn, op.phone, f"dispatch@{op.slug}.demo.invalid"),
    )
    op_id = cur.fetchone()[0]
    cur.execute("DELETE FROM operator_utilities WHERE operator_id = %s", (op_id,))
    execute_values(
        cur, "INSERT INTO operator_utilities VALUES %s", [(op_id, u) for u in op.utilities]
    )
    # Links to real municipalities an admin added stay; the demo's own are set anew.
    cur.execute(
        "DELETE FROM operator_municipalities om USING municipalities m WHERE om.operator_id = %s"
        " AND m.id = om.municipality_id AND m.is_demo",
        (op_id,),
    )
    execute_values(
        cur,
        "INSERT INTO operator_municipalities VALUES %s ON CONFLICT DO NOTHING",
        [(op_id, m) for m in muni_ids],
    )
    return op_id


def upsert_features(cur, rows: list[tuple]) -> None:
    """Insert or update the demo features by (layer, operator, external id): ids stay."""
    execute_values(
        cur,
        "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id, name,"
        " attributes, is_demo, geom) VALUES %s ON CONFLICT ON CONSTRAINT feature_external_id"
        " DO UPDATE SET utility_code = EXCLUDED.utility_code, name = EXCLUDED.name,"
        " attributes = EXCLUDED.attributes, geom = EXCLUDED.geom, is_demo = true"
        " WHERE network_features.attributes IS DISTINCT FROM EXCLUDED.attributes"
        " OR network_features.name IS DISTINCT FROM EXCLUDED.name"
        " OR NOT ST_Equals(network_features.geom, EXCLUDED.geom)",
        rows,
        template="(%s, %s, %s, %s, %s, %s::jsonb, true, ST_SetSRID(%s::geometry, 4326))",
        page_size=2000,
    )
    # Demo features the generator no longer makes (none while it is deterministic).
    keys = json.dumps([[r[0], r[2], r[3]] for r in rows])
    cur.execute(
        "DELETE FROM network_features f WHERE f.is_demo AND NOT EXISTS (SELECT 1 FROM"
        " jsonb_array_elements(%s::jsonb) k WHERE k->>0 = f.layer_id"
        " AND (k->>1)::int = f.operator_id AND k->>2 = f.external_id)",
        (keys,),
    )


def sync_service_areas(cur, demo_op_ids: list[int], areas: list[tuple]) -> None:
    """The demo operators' areas by (operator, utility, name): updated, added, extra ones gone."""
    kept = []
    for op_id, utility, name, priority, wkb in areas:
        cur.execute(
            "UPDATE service_areas SET priority = %s,"
            " geom = ST_Multi(ST_SetSRID(%s::geometry, 4326))"
            " WHERE operator_id = %s AND utility_code = %s AND name = %s RETURNING id",
            (priority, wkb, op_id, utility, name),
        )
        row = cur.fetchone()
        if row is None:
            cur.execute(
                "INSERT INTO service_areas (operator_id, utility_code, name, priority, geom)"
                " VALUES (%s, %s, %s, %s, ST_Multi(ST_SetSRID(%s::geometry, 4326))) RETURNING id",
                (op_id, utility, name, priority, wkb),
            )
            row = cur.fetchone()
        kept.append(row[0])
    cur.execute(
        "DELETE FROM service_areas WHERE operator_id = ANY(%s) AND NOT (id = ANY(%s))",
        (demo_op_ids, kept),
    )


def upsert_designations(cur, rows: list[tuple]) -> None:
    """The demo's designations; one an admin set to a real operator is left as it is."""
    execute_values(
        cur,
        "INSERT INTO designated_operators VALUES %s ON CONFLICT (municipality_id, utility_code)"
        " DO UPDATE SET operator_id = EXCLUDED.operator_id WHERE designated_operators.operator_id"
        " IN (SELECT id FROM operators WHERE is_demo)",
        rows,
    )


def non_demo_rows(session: Session) -> dict[str, int]:
    """How many rows of each table hold real (non-demo) data; empty when there are none."""
    counts = {}
    for table in ("municipalities", "operators", "users", "network_features", "incidents"):
        # text(): the table names are the constants above.
        n = session.execute(text(f"SELECT count(*) FROM {table} WHERE NOT is_demo")).scalar_one()
        if n:
            counts[table] = n
    return counts
