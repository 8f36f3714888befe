"""Deadlines, overdue, duplicates and planned outages, through the service layer and the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers import assert_error
from shapely import from_wkt
from shapely.geometry import mapping
from sqlalchemy import text

from gis_app.cli import main
from gis_app.incidents import validate
from gis_app.incidents.create import create_incident
from gis_app.incidents.deadlines import deadline_for
from gis_app.incidents.worker import mark_overdue
from incidents.incident_helpers import at, line, square


def new(session, registry, actor, **fields) -> int:
    payload = {"description": "тест", **fields}
    return create_incident(session, registry, actor, validate.create_payload(session, payload))


def spot(east_m: float) -> dict:
    lon, lat = at(east_m, 0)
    return {"lon": lon, "lat": lat}


def row(session, incident_id: int):
    return (
        session.execute(text("SELECT * FROM incidents WHERE id = :id"), {"id": incident_id})
        .mappings()
        .one()
    )


@pytest.mark.parametrize(
    "utility, kind, priority, dead_end, hours, confirmed",
    [
        ("water", "incident", 3, None, 4, True),
        ("water", "accident", 3, True, 24, True),  # dead-end main
        ("water", "accident", 3, False, 4, True),
        ("heat", "accident", 1, None, 4, True),  # room +8…+10 °C
        ("heat", "accident", 2, None, 8, True),
        ("heat", "incident", 3, None, 16, True),
        ("electricity", "accident", 1, None, 24, True),
        ("gas", "accident", 1, None, 4, False),
        ("roads", "incident", 3, None, 24, False),
    ],
)
def test_default_deadlines_follow_the_federal_limits(
    session, utility, kind, priority, dead_end, hours, confirmed
):
    rule = deadline_for(session, utility, kind, priority, dead_end)
    assert rule.resolve_minutes == hours * 60 and rule.accept_minutes == 60
    assert rule.confirmed is confirmed and rule.source


def test_dead_end_main_accident_gets_24_hours(
    session, registry, actors, make_operator, make_feature
):
    op = make_operator("t-dead-end")
    fid = make_feature(
        op,
        line((-50, 3), (50, 3)),
        attributes={"diameter_mm": 100, "material": "steel", "dead_end": True},
    )
    lon, lat = at(0, 0)
    stopped = datetime.now(UTC) - timedelta(hours=2)
    inc = row(
        session,
        new(
            session,
            registry,
            actors["dispatcher"],
            lon=lon,
            lat=lat,
            utility="water",
            kind="accident",
            supply_stopped_at=stopped.isoformat(),
        ),
    )
    assert inc["feature_id"] == fid and inc["operator_id"] == op
    # The clock starts when supply stopped, not at the report.
    assert inc["resolve_due_at"] == stopped + timedelta(hours=24)


def test_overdue_is_flagged_listed_counted_and_notified_once(
    session, registry, actors, client, make_operator, make_feature
):
    op = make_operator("t-late", email="late@example.invalid")
    make_feature(op, line((-50, 3), (50, 3)))
    lon, lat = at(0, 0)
    incident_id = new(session, registry, actors["dispatcher"], lon=lon, lat=lat, utility="water")
    session.execute(
        text("UPDATE incidents SET resolve_due_at = now() - interval '1 minute' WHERE id = :id"),
        {"id": incident_id},
    )
    session.flush()
    body = client.get(f"/api/incidents/{incident_id}").get_json()
    assert body["overdue"] and body["overdue_to_resolve"] and not body["overdue_to_accept"]
    listed = client.get(f"/api/incidents?overdue=true&operator={op}").get_json()["incidents"]
    assert [i["id"] for i in listed] == [incident_id]
    counts = client.get("/api/incidents/overdue").get_json()["operators"]
    mine = next(c for c in counts if c["operator_id"] == op)
    assert (mine["open"], mine["overdue"], mine["overdue_to_resolve"]) == (1, 1, 1)
    assert incident_id in mark_overdue(session)
    assert incident_id not in mark_overdue(session)  # once
    events = (
        session.execute(
            text("SELECT event FROM notifications WHERE incident_id = :id ORDER BY id"),
            {"id": incident_id},
        )
        .scalars()
        .all()
    )
    assert events == ["assigned", "overdue"]


def test_reports_near_an_open_incident_are_linked_and_closed_with_it(
    session, registry, actors, client, make_operator, make_feature
):
    op = make_operator("t-dup")
    fid = make_feature(op, line((-600, 3), (600, 3)))  # a 1.2 km main
    d = actors["dispatcher"]
    first = new(session, registry, d, **spot(-500), utility="water", assign=False)
    near = new(session, registry, d, **spot(-400), utility="water")
    same_feature = new(
        session, registry, d, **spot(500), utility="water"
    )  # 1 km away, but on the same main
    other_utility = new(session, registry, d, **spot(-500), utility="gas")
    forced = new(session, registry, d, **spot(-450), utility="water", allow_duplicate=True)
    assert row(session, first)["feature_id"] == fid
    for dup in (near, same_feature):
        r = row(session, dup)
        assert (r["status"], r["duplicate_of"]) == ("duplicate", first)
    assert row(session, other_utility)["duplicate_of"] is None
    assert row(session, forced)["duplicate_of"] is None
    master = client.get(f"/api/incidents/{first}").get_json()
    assert master["duplicates"] == 2
    listed = client.get(f"/api/incidents/{first}/duplicates").get_json()["incidents"]
    assert sorted(i["id"] for i in listed) == sorted([near, same_feature])
    # Closing the incident (a new one: with a comment) closes its duplicates.
    v = master["version"]
    admin = {"If-Match": f'"{v}"'}
    assert (
        client.post(
            f"/api/incidents/{first}/close", json={"comment": "ложный"}, headers=admin
        ).status_code
        == 200
    )
    assert row(session, near)["closed_at"] is not None
    assert row(session, same_feature)["closed_at"] is not None


def test_a_report_inside_a_planned_outage_is_linked(
    session, client_as, client, make_feature, works_at_spot
):
    ops = client_as("operator")
    vodokanal = session.execute(
        text("SELECT id FROM operators WHERE slug = 'demo-vodokanal-gatchina'")
    ).scalar_one()
    fid = make_feature(vodokanal, line((-300, 3), (300, 3)))
    starts = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    ends = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
    r = ops.post(
        "/api/planned-outages",
        json={
            "utility": "water",
            "title": "Замена задвижки",
            "starts_at": starts,
            "ends_at": ends,
            "feature_ids": [fid],
        },
    )
    assert r.status_code == 201, r.get_json()
    outage = r.get_json()
    assert outage["operator_id"] == vodokanal and outage["area"]["type"] == "MultiPolygon"
    lon, lat = at(100, 20)  # 17 m from the main: inside its 25 m buffer
    created = client_as("dispatcher").post(
        "/api/incidents",
        json={"lon": lon, "lat": lat, "utility": "water", "description": "нет воды"},
    )
    body = created.get_json()
    assert body["planned_outage"] == {"id": outage["id"], "title": "Замена задвижки"}
    assert datetime.fromisoformat(body["resolve_due_at"]) == datetime.fromisoformat(ends)
    lon, lat = at(100, 60)  # 57 m away: outside
    created = client_as("dispatcher").post(
        "/api/incidents",
        json={"lon": lon, "lat": lat, "utility": "water", "description": "нет воды"},
    )
    assert created.get_json()["planned_outage"] is None
    active = client.get("/api/planned-outages?active=true").get_json()["planned_outages"]
    assert outage["id"] in [o["id"] for o in active]


def test_planned_outage_with_an_area_and_bad_announcements(session, client_as, works_at_spot):
    ops = client_as("operator")
    starts = datetime.now(UTC).isoformat()
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    area = mapping(from_wkt(square(-100, -100, 100, 100)))
    ok = ops.post(
        "/api/planned-outages",
        json={"utility": "water", "title": "t", "area": area, "starts_at": starts, "ends_at": ends},
    )
    assert ok.status_code == 201 and json.dumps(ok.get_json()["area"]).count("[") > 4
    base = {"utility": "water", "title": "t", "starts_at": starts, "ends_at": ends, "area": area}
    assert_error(
        ops.post("/api/planned-outages", json={**base, "ends_at": starts}), 400, "invalid_field"
    )
    assert_error(
        ops.post(
            "/api/planned-outages",
            json={**base, "area": {"type": "Point", "coordinates": [30, 59]}},
        ),
        400,
        "invalid_field",
    )
    assert_error(
        ops.post("/api/planned-outages", json={**base, "area": None}), 400, "missing_field"
    )
    assert_error(
        ops.post("/api/planned-outages", json={**base, "feature_ids": [999999998, 999999999]}),
        400,
        "invalid_field",
    )
    assert_error(client_as("planner").post("/api/planned-outages", json=base), 403, "forbidden")
    assert_error(client_as("dispatcher").post("/api/planned-outages", json=base), 403, "forbidden")


def test_priority_change_moves_the_deadline(
    session, registry, actors, client, make_operator, make_feature
):
    op = make_operator("t-heat")
    make_feature(
        op,
        line((-50, 3), (50, 3)),
        "heat_pipes",
        "heat",
        {"diameter_mm": 100, "pipes": 2, "laying": "channel"},
    )
    lon, lat = at(0, 0)
    incident_id = new(session, registry, actors["dispatcher"], lon=lon, lat=lat, utility="heat")
    body = client.get(f"/api/incidents/{incident_id}").get_json()
    reported = datetime.fromisoformat(body["reported_at"])
    assert datetime.fromisoformat(body["resolve_due_at"]) - reported == timedelta(hours=16)
    r = client.patch(
        f"/api/incidents/{incident_id}",
        json={"priority": 1},
        headers={"If-Match": f'"{body["version"]}"'},
    )
    assert datetime.fromisoformat(r.get_json()["resolve_due_at"]) - reported == timedelta(hours=4)


def test_reference_endpoints_and_read_only_roles(client_as):
    planner = client_as("planner")
    rules = planner.get("/api/deadline-rules").get_json()["rules"]
    water = [r for r in rules if r["utility"] == "water" and r["dead_end"]]
    assert water[0]["resolve_minutes"] == 24 * 60 and "ПП 354" in water[0]["source"]
    assert planner.get("/api/incidents?limit=5").status_code == 200
    assert planner.get("/api/incidents/overdue").status_code == 200
    assert planner.get("/api/planned-outages").status_code == 200
    assert_error(planner.get("/api/planned-outages/999999999"), 404, "outage_not_found")


def test_notify_commands_are_registered(runner):
    result = runner.invoke(main, ["notify", "--help"])
    assert result.exit_code == 0 and "run" in result.output and "retry-failed" in result.output


def test_dispatcher_links_a_report_by_hand(
    session, registry, actors, client, make_operator, make_feature
):
    op = make_operator("t-manual")
    make_feature(
        op, line((-2000, 3), (2000, 3)), attributes={"diameter_mm": 300, "material": "steel"}
    )
    d = actors["dispatcher"]
    first = new(session, registry, d, **spot(-1500), utility="water", allow_duplicate=True)
    second = new(session, registry, d, **spot(1500), utility="water", allow_duplicate=True)
    third = new(session, registry, d, **spot(0), utility="water", allow_duplicate=True)
    url = f"/api/incidents/{second}/duplicate"
    v = client.get(f"/api/incidents/{second}").get_json()["version"]
    match = {"If-Match": f'"{v}"'}
    assert_error(client.post(url, json={}, headers=match), 400, "missing_field")
    assert_error(
        client.post(url, json={"duplicate_of": second}, headers=match), 400, "invalid_field"
    )
    r = client.post(url, json={"duplicate_of": first}, headers=match)
    assert r.status_code == 200 and r.get_json()["status"] == "duplicate"
    assert r.get_json()["duplicate_of"] == first
    # A duplicate is not an original: nothing links to it.
    v3 = client.get(f"/api/incidents/{third}").get_json()["version"]
    assert_error(
        client.post(
            f"/api/incidents/{third}/duplicate",
            json={"duplicate_of": second},
            headers={"If-Match": f'"{v3}"'},
        ),
        400,
        "invalid_field",
    )
    assert client.get(f"/api/incidents/{first}").get_json()["duplicates"] == 1


def test_operator_cancels_its_planned_outage(session, client_as, works_at_spot):
    ops = client_as("operator")
    area = mapping(from_wkt(square(-100, -100, 100, 100)))
    now = datetime.now(UTC)
    outage = ops.post(
        "/api/planned-outages",
        json={
            "utility": "water",
            "title": "t",
            "area": area,
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
        },
    ).get_json()
    assert_error(
        client_as("operator-gas").delete(f"/api/planned-outages/{outage['id']}"),
        403,
        "not_your_operator",
    )
    r = ops.delete(f"/api/planned-outages/{outage['id']}")
    assert r.status_code == 200 and r.get_json()["cancelled_at"]
    active = client_as("planner").get("/api/planned-outages?active=true").get_json()
    assert outage["id"] not in [o["id"] for o in active["planned_outages"]]
    assert_error(ops.delete("/api/planned-outages/999999999"), 404, "outage_not_found")
