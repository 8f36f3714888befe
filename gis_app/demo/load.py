"""Load the demo data into the database: one transaction, replacing the previous demo rows.

Loading twice leaves the same content (the generator is deterministic); rows that are not demo
are never touched, except rows that point at demo operators or municipalities.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import shapely
from psycopg2.extras import execute_values
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.users import create_user
from gis_app.demo.operators import (
    GENITIVE,
    OBLAST_OPERATORS,
    DemoOperator,
    demo_inn,
    town_operators,
)
from gis_app.demo.places import NETWORK_TOWNS, OBLAST, all_places, built_up_area, outlines
from gis_app.demo.town import TownBuilder
from gis_app.incidents.deadlines import deadline_for, is_dead_end
from gis_app.layers import LayerRegistry, validate_attributes
from gis_app.network.cascade import demo_dependencies
from gis_app.network.topology import rebuild
from gis_app.operators.responsible import find_responsible

# One account of each role, for local use only (README); the same password for all of them.
DEMO_PASSWORD = "demo-2026"
DEMO_USERS = [
    ("admin", "admin", None, (), "ДЕМО Администратор"),
    ("dispatcher-oblast", "dispatcher", None, ("leningrad-oblast",), "ДЕМО Диспетчер ЦУР"),
    ("dispatcher-gatchina", "dispatcher", None, ("gatchinsky",), "ДЕМО Диспетчер ЕДДС Гатчины"),
    (
        "dispatcher-sosnovy-bor",
        "dispatcher",
        None,
        ("sosnovy-bor",),
        "ДЕМО Диспетчер ЕДДС Соснового Бора",
    ),
    ("operator-gas", "operator", "demo-gazraspredelenie", (), "ДЕМО Диспетчер АДС газа"),
    (
        "operator-vodokanal-gatchina",
        "operator",
        "demo-vodokanal-gatchina",
        (),
        "ДЕМО Диспетчер Водоканала",
    ),
    (
        "operator-gorset-gatchina",
        "operator",
        "demo-gorset-gatchina",
        (),
        "ДЕМО Диспетчер Горэлектросети",
    ),
    ("planner", "planner", None, (), "ДЕМО Специалист по планированию"),
]


class DemoDataError(RuntimeError):
    """The generator produced a feature its layer rejects (a bug in the generator)."""


def _wkb(geom) -> str:
    return shapely.to_wkb(geom, hex=True, output_dimension=2)


def clear_demo(session: Session) -> None:
    """Delete every demo row (incidents, features, operators, municipalities)."""
    session.execute(text("DELETE FROM incidents WHERE is_demo"))
    session.execute(text("DELETE FROM network_features WHERE is_demo"))
    session.execute(text("DELETE FROM users WHERE is_demo"))
    session.execute(text("DELETE FROM operators WHERE is_demo"))
    # Children before parents: the hierarchy's foreign key restricts deletes.
    leaves = text(
        "DELETE FROM municipalities m WHERE is_demo AND NOT EXISTS "
        "(SELECT 1 FROM municipalities c WHERE c.parent_id = m.id)"
    )
    deleted = 1
    while deleted:
        deleted = session.execute(leaves).rowcount


def generate(registry: LayerRegistry) -> tuple[dict, dict, list]:
    """Outlines, operators by town, and every feature; each feature checked against its layer."""
    shapes = outlines()
    ops_by_town, features = {}, []
    for place in NETWORK_TOWNS:
        ops = {
            **town_operators(place, GENITIVE[place.slug], place.slug == "gatchina"),
            **OBLAST_OPERATORS,
        }
        roles = {role: op.slug for role, op in ops.items()}
        built = TownBuilder(place, built_up_area(place, shapes[place.slug]), roles).build()
        for feature in built:
            layer = registry.get(feature.layer)
            problems = (
                validate_attributes(layer, feature.attributes) if layer else ["no such layer"]
            )
            if problems or feature.geom.geom_type.upper() != layer.geometry:
                raise DemoDataError(f"{feature.external_id}: {problems or 'wrong geometry type'}")
        ops_by_town[place.slug] = ops
        features.extend(built)
    return shapes, ops_by_town, features


def load_demo(session: Session, registry: LayerRegistry, now: datetime | None = None) -> dict:
    """Replace the demo data; return the number of rows of each kind. The caller commits."""
    shapes, ops_by_town, features = generate(registry)
    clear_demo(session)
    cur = session.connection().connection.driver_connection.cursor()

    muni_id: dict[str, int] = {}
    for place in all_places():
        cur.execute(
            "INSERT INTO municipalities (parent_id, slug, kind, oktmo, name_ru, name_en, is_demo, geom)"
            " VALUES (%s, %s, %s, %s, %s, %s, true, ST_SetSRID(%s::geometry, 4326)) RETURNING id",
            (
                muni_id.get(place.parent),
                place.slug,
                place.kind,
                place.oktmo,
                place.name_ru,
                place.name_en,
                _wkb(shapes[place.slug]),
            ),
        )
        muni_id[place.slug] = cur.fetchone()[0]

    operators: dict[str, DemoOperator] = {}
    for ops in ops_by_town.values():
        for op in ops.values():
            operators[op.slug] = op
    op_id: dict[str, int] = {}
    for op in operators.values():
        cur.execute(
            "INSERT INTO operators (slug, full_name, short_name, inn, dispatch_phone, dispatch_email,"
            " is_demo) VALUES (%s, %s, %s, %s, %s, %s, true) RETURNING id",
            (
                op.slug,
                op.full_name,
                op.short_name,
                demo_inn(op.seed),
                op.phone,
                f"dispatch@{op.slug}.demo.invalid",
            ),
        )
        op_id[op.slug] = cur.fetchone()[0]
        execute_values(
            cur,
            "INSERT INTO operator_utilities VALUES %s",
            [(op_id[op.slug], u) for u in op.utilities],
        )
        execute_values(
            cur,
            "INSERT INTO operator_municipalities VALUES %s",
            [(op_id[op.slug], muni_id[m]) for m in op.serves],
        )

    execute_values(
        cur,
        "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id, name,"
        " attributes, is_demo, geom) VALUES %s",
        [
            (
                f.layer,
                f.utility,
                op_id[f.operator],
                f.external_id,
                f.name,
                json.dumps(f.attributes, ensure_ascii=False),
                _wkb(f.geom),
            )
            for f in features
        ],
        template="(%s, %s, %s, %s, %s, %s::jsonb, true, ST_SetSRID(%s::geometry, 4326))",
        page_size=2000,
    )

    # The topology of the networks, the consumers' suppliers, and what depends on what.
    links = sum(rebuild(session, registry).values())
    dependencies = demo_dependencies(session)
    areas, designated = _service_areas(shapes, ops_by_town, features)
    execute_values(
        cur,
        "INSERT INTO service_areas (operator_id, utility_code, name, priority, geom) VALUES %s",
        [
            (op_id[slug], utility, name, priority, _wkb(geom))
            for slug, utility, name, priority, geom in areas
        ],
        template="(%s, %s, %s, %s, ST_Multi(ST_SetSRID(%s::geometry, 4326)))",
    )
    execute_values(
        cur,
        "INSERT INTO designated_operators VALUES %s",
        [(muni_id[m], u, op_id[o]) for m, u, o in designated],
    )
    incidents = _incidents(session, registry, cur, features, now or datetime.now(UTC))
    for username, role, operator, municipalities, full_name in DEMO_USERS:
        create_user(
            session,
            username,
            role,
            DEMO_PASSWORD,
            operator,
            municipalities,
            full_name,
            is_demo=True,
        )
    return {
        "municipalities": len(muni_id),
        "operators": len(op_id),
        "service_areas": len(areas),
        "network_features": len(features),
        "network_links": links,
        "network_dependencies": dependencies,
        "incidents": incidents,
        "users": len(DEMO_USERS),
    }


def _place_name(slug: str) -> str:
    return next(place.name_ru for place in all_places() if place.slug == slug)


def _service_areas(shapes, ops_by_town, features):
    """Town operators serve their town (slightly buffered); oblast operators the whole oblast; the
    small heat company only the blocks its own boiler house heats."""
    areas, designated, seen = [], [], set()
    for town, ops in ops_by_town.items():
        outline = shapes[town].buffer(0.004)
        parent = next(p.parent for p in all_places() if p.slug == town)
        for role, op in ops.items():
            for utility in op.utilities:
                key = (op.slug, utility)
                if role == "heat_small":
                    own = [f.geom for f in features if f.operator == op.slug]
                    geom = shapely.convex_hull(shapely.GeometryCollection(own)).buffer(0.0015)
                    areas.append((op.slug, utility, f"Зона котельной {op.short_name}", 20, geom))
                    continue
                if key in seen:
                    continue
                seen.add(key)
                if op.serves == (OBLAST.slug,):
                    areas.append(
                        (
                            op.slug,
                            utility,
                            "Ленинградская область",
                            op.area_priority,
                            shapes[OBLAST.slug],
                        )
                    )
                else:
                    # The town, and whatever the operator owns just outside it (intakes, plants).
                    own = [
                        f.geom for f in features if f.operator == op.slug and f.utility == utility
                    ]
                    hull = shapely.convex_hull(shapely.GeometryCollection(own)).buffer(0.002)
                    areas.append(
                        (
                            op.slug,
                            utility,
                            f"{op.short_name}: {_place_name(town)}",
                            op.area_priority,
                            shapely.union(outline, hull),
                        )
                    )
        for utility in ("electricity", "heat", "gas", "water", "sewerage", "roads"):
            op = ops.get(utility) or ops["gas"]
            designated.append((town, utility, op.slug))
            if parent and parent != OBLAST.slug:
                designated.append((parent, utility, op.slug))
    for utility, role in (("electricity", "grid_110"), ("gas", "gas"), ("roads", "regional_roads")):
        designated.append((OBLAST.slug, utility, OBLAST_OPERATORS[role].slug))
    return areas, sorted(set(designated))


INCIDENT_TEXT = {
    "water": ("Порыв водопровода, вода на проезжей части", "leak"),
    "sewerage": ("Засор канализации, подтопление подвала", "blockage"),
    "heat": ("Течь теплотрассы, парение из колодца", "leak"),
    "gas": ("Запах газа у дома", "gas_smell"),
    "electricity": ("Нет света в нескольких домах", "power_outage"),
    "roads": ("Провал асфальта на проезжей части", "road_damage"),
}
STATUS_CYCLE = [
    "new",
    "assigned",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "assigned",
    "new",
]


def _incidents(session: Session, registry: LayerRegistry, cur, features, now: datetime) -> int:
    """A few dozen incidents next to real demo features, in every status of the lifecycle; each
    routed by the service's own responsible-operator rules, with its deadlines."""
    rng = random.Random(2026)
    lines = [
        f
        for f in features
        if f.layer.endswith(("mains", "pipes", "pipelines", "lines", "sewers", "segments"))
    ]
    rows = []
    for k in range(40):
        feature = rng.choice(lines)
        point = feature.geom.interpolate(0.5, normalized=True)
        point = shapely.Point(
            point.x + rng.uniform(-0.0001, 0.0001), point.y + rng.uniform(-0.00006, 0.00006)
        )
        description, category = INCIDENT_TEXT[feature.utility]
        status = STATUS_CYCLE[k % len(STATUS_CYCLE)]
        reported = now - timedelta(hours=rng.uniform(0.2, 30))
        rows.append((feature, point, description, category, status, reported, k))
    for feature, point, description, category, status, reported, k in rows:
        found = find_responsible(session, registry, feature.utility, point.x, point.y)
        kind = "accident" if k % 5 == 0 else "incident"
        priority = 1 + k % 4
        rule = deadline_for(
            session, feature.utility, kind, priority, is_dead_end(session, found.feature_id)
        )
        assigned = reported + timedelta(minutes=10) if status != "new" else None
        cur.execute(
            """
            INSERT INTO incidents (kind, utility_code, category, description, status, priority,
                address, municipality_id, operator_id, feature_id, responsible_rule,
                responsible_reason, responsible_distance_m, responsible_candidates,
                responsible_layer, responsible_area_id, responsible_computed_at, reported_at,
                assigned_at, accept_due_at, resolve_due_at, resolved_at, closed_at, source,
                created_by, is_demo, geom)
            SELECT %(kind)s, %(utility)s, %(category)s, %(description)s, %(status)s, %(priority)s,
                %(address)s,
                (SELECT m.id FROM municipalities m WHERE ST_Covers(m.geom, p.g)
                 ORDER BY ST_Area(m.geom), m.id LIMIT 1),
                %(operator)s, %(feature)s, %(rule)s, %(reason)s, %(distance)s,
                %(candidates)s::jsonb, %(layer)s, %(area)s, %(reported)s, %(reported)s,
                %(assigned)s, %(accept_due)s, %(resolve_due)s, %(resolved)s, %(closed)s, 'demo',
                'demo', true, p.g
            FROM (SELECT ST_SetSRID(%(wkb)s::geometry, 4326) AS g) p
            RETURNING id
            """,
            {
                "kind": kind,
                "utility": feature.utility,
                "category": category,
                "description": description,
                "status": status,
                "priority": priority,
                "address": feature.attributes.get("street_name"),
                "operator": found.operator_id,
                "feature": found.feature_id,
                "rule": found.rule,
                "reason": found.reason,
                "distance": found.distance_m,
                "candidates": json.dumps(found.to_json()["candidates"], ensure_ascii=False),
                "layer": found.layer,
                "area": found.service_area_id,
                "reported": reported,
                "assigned": assigned,
                "accept_due": rule.accept_due(assigned),
                "resolve_due": rule.resolve_due(reported, None),
                "resolved": reported + timedelta(hours=1)
                if status in ("resolved", "closed")
                else None,
                "closed": reported + timedelta(hours=2) if status == "closed" else None,
                "wkb": _wkb(point),
            },
        )
        incident_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO incident_events (incident_id, at, actor, action, to_status, comment, data)"
            " VALUES (%s, %s, 'demo', 'created', 'new', 'демо-данные', %s::jsonb)",
            (
                incident_id,
                reported,
                json.dumps(
                    {"responsible": {"rule": found.rule, "reason": found.reason}},
                    ensure_ascii=False,
                ),
            ),
        )
        if status != "new":
            cur.execute(
                "INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status)"
                " VALUES (%s, %s, 'demo', 'status', 'new', %s)",
                (incident_id, reported + timedelta(minutes=10), status),
            )
    return len(rows)
