"""Load the demo data into the database: one transaction, demo rows updated in place.

Loading twice leaves the same content (the generator is deterministic). Demo municipalities,
operators, features, service areas and accounts keep their ids (rows.py writes them by their
stable keys), so nothing that points at them is lost; only the demo's own incidents are made
anew. Rows that are not demo are never changed or deleted (issue 12).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.passwords import DEMO_PASSWORD
from gis_app.accounts.users import create_user
from gis_app.demo import rows
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
from gis_app.places.municipalities import municipality_at

# One account of each role, for local use only (README); the same password for all of them
# (DEMO_PASSWORD, which the password rules allow for demo accounts only).
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


# A real incident that named a demo incident as its master or its cause loses that link when the
# demo is made anew (the foreign keys SET NULL): its history says which link and which number.
_LINKS_TO_DEMO_SQL = """
INSERT INTO incident_events (incident_id, actor, action, comment, data)
SELECT r.id, 'system', 'link_removed',
       format(CASE l.link WHEN 'duplicate_of'
                   THEN 'демо-инцидент № %s, дубликатом которого он был, удалён при перезагрузке демо'
                   ELSE 'демо-инцидент № %s, названный его причиной, удалён при перезагрузке демо'
              END, l.target),
       jsonb_build_object('link', l.link, 'incident', l.target, 'reason', 'demo_reload')
FROM incidents r
CROSS JOIN LATERAL (VALUES ('duplicate_of', r.duplicate_of), ('caused_by', r.caused_by_id))
     AS l(link, target)
JOIN incidents d ON d.id = l.target AND d.is_demo
WHERE NOT r.is_demo
"""


def clear_demo_incidents(session: Session) -> None:
    """Delete the demo's own incidents (their events go with them); they are made anew. A real
    incident linked to one keeps a 'link_removed' event saying which link went."""
    session.execute(text(_LINKS_TO_DEMO_SQL))
    session.execute(text("DELETE FROM incidents WHERE is_demo"))


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
    operators: dict[str, DemoOperator] = {}
    for ops in ops_by_town.values():
        for op in ops.values():
            operators[op.slug] = op
    places = all_places()
    rows.check_keys(session, "municipalities", "slug", [p.slug for p in places])
    rows.check_keys(session, "municipalities", "oktmo", [p.oktmo for p in places])
    rows.check_keys(session, "operators", "slug", list(operators))
    rows.check_keys(session, "operators", "inn", [demo_inn(op.seed) for op in operators.values()])
    clear_demo_incidents(session)
    cur = session.connection().connection.driver_connection.cursor()

    muni_id: dict[str, int] = {}
    for place in places:
        muni_id[place.slug] = rows.upsert_municipality(
            cur, muni_id.get(place.parent), place, _wkb(shapes[place.slug])
        )
    op_id: dict[str, int] = {}
    for op in operators.values():
        op_id[op.slug] = rows.upsert_operator(
            cur, op, demo_inn(op.seed), [muni_id[m] for m in op.serves]
        )
    rows.upsert_features(
        cur,
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
    )

    # The topology of the networks, the consumers' suppliers, and what depends on what.
    links = sum(rebuild(session, registry).values())
    dependencies = demo_dependencies(session)
    areas, designated = _service_areas(shapes, ops_by_town, features)
    rows.sync_service_areas(
        cur,
        list(op_id.values()),
        [(op_id[slug], utility, name, priority, _wkb(geom))
         for slug, utility, name, priority, geom in areas],
    )  # fmt: skip
    rows.upsert_designations(cur, [(muni_id[m], u, op_id[o]) for m, u, o in designated])
    incidents = _incidents(session, registry, cur, features, now or datetime.now(UTC))
    for username, role, operator, municipalities, full_name in DEMO_USERS:
        # A demo account that exists keeps its password, tokens and links; a real account of
        # the same name is never replaced (the demo then has one account fewer).
        if session.execute(
            text("SELECT 1 FROM users WHERE username = :u"), {"u": username}
        ).first():
            continue
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
        for utility in ("electricity", "heat", "hot_water", "gas", "water", "sewerage", "roads"):
            # Hot water (ГВС) comes from the town's heat company, not its vodokanal.
            op = ops.get(utility) or (ops["heat"] if utility == "hot_water" else ops["gas"])
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
        history = _demo_history(status, reported, k, now)
        moments = {action: at for at, action, _, _ in history}
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
                %(municipality)s,
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
                "municipality": municipality_at(session, point.x, point.y),
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
                "resolved": moments.get("resolve"),
                "closed": moments.get("close"),
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
                    {
                        "responsible": {"rule": found.rule, "reason": found.reason},
                        "deadline_rule_id": rule.rule_id,
                    },
                    ensure_ascii=False,
                ),
            ),
        )
        for at, action, frm, to in history:
            cur.execute(
                "INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status)"
                " VALUES (%s, %s, 'demo', %s, %s, %s)",
                (incident_id, at, action, frm, to),
            )
    return len(rows)


def _demo_history(status: str, reported: datetime, k: int, now: datetime) -> list[tuple]:
    """The lifecycle moves that brought a demo incident to `status` (so its KPIs are real):
    assigned after 10 min, accepted 5–85 min later, resolved 1–6 h after the report (never
    later than now), closed an hour after that; in time order."""
    assigned = reported + timedelta(minutes=10)
    accepted = min(assigned + timedelta(minutes=5 + (k * 13) % 81), now - timedelta(minutes=4))
    accepted = max(accepted, assigned)
    resolved = min(reported + timedelta(hours=1 + k % 6), now - timedelta(minutes=2))
    resolved = max(resolved, accepted + timedelta(minutes=5))
    steps = [(assigned, "assign", "new", "assigned")]
    if status == "rejected":
        return [*steps, (accepted, "reject", "assigned", "rejected")]
    if status in ("accepted", "in_progress", "resolved", "closed"):
        steps.append((accepted, "accept", "assigned", "accepted"))
    if status in ("in_progress", "resolved", "closed"):
        steps.append((accepted + timedelta(minutes=5), "start", "accepted", "in_progress"))
    if status in ("resolved", "closed"):
        steps.append((resolved, "resolve", "in_progress", "resolved"))
    if status == "closed":
        closed = max(min(resolved + timedelta(hours=1), now - timedelta(minutes=1)), resolved)
        steps.append((closed, "close", "resolved", "closed"))
    return steps if status != "new" else []
