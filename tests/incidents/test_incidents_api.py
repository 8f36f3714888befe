"""Incidents through the API: create, read, list, lifecycle by role, ETag/If-Match, bad input."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from helpers import assert_error, assert_feature_collection
from sqlalchemy import text

from incidents.incident_helpers import operator_id

# A Gatchina water main with no open water incident within 600 m (so no duplicate is found).
QUIET_MAIN = text(
    """
    SELECT f.id, ST_X(p), ST_Y(p), f.operator_id FROM network_features f
    JOIN operators o ON o.id = f.operator_id,
    LATERAL (SELECT ST_LineInterpolatePoint(f.geom, 0.5) AS p) mid
    WHERE f.layer_id = :layer AND o.slug = :owner
      AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.utility_code = f.utility_code
                      AND ST_DWithin(i.geom::geography, p::geography, 600))
    ORDER BY f.id OFFSET :n LIMIT 1
    """
)


def quiet_main(
    session, n: int = 0, layer: str = "water_mains", owner: str = "demo-vodokanal-gatchina"
):
    return session.execute(QUIET_MAIN, {"layer": layer, "owner": owner, "n": n}).one()


def count(session, table: str = "incidents") -> int:
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def post(client, payload: dict):
    return client.post("/api/incidents", json=payload)


def act(client, incident: dict | int, action: str, version: int | None = None, **body):
    incident_id = incident if isinstance(incident, int) else incident["id"]
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    return client.post(f"/api/incidents/{incident_id}/{action}", json=body, headers=headers)


@pytest.fixture
def water(session, client_as):
    """A new water incident on a quiet Gatchina main, created by the Gatchina dispatcher."""
    fid, lon, lat, owner = quiet_main(session)
    response = post(
        client_as("dispatcher-gatchina"),
        {
            "lon": lon,
            "lat": lat + 0.00005,
            "utility": "water",
            "kind": "accident",
            "description": "Порыв, вода на проезжей части",
            "priority": 2,
            "address": "ул. Тестовая, 1",
            "reporter_contact": "+7 900 000-00-00",
            "consumers_cut_off": 120,
            "social_objects_cut_off": [{"name": "Школа № 1", "kind": "school"}],
            "utilities_cut_off": ["heat"],
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json() | {"_feature": fid, "_owner": owner}


def test_create_routes_assigns_and_stores_why(water, client, session):
    assert water["status"] == "assigned"
    assert water["operator"]["id"] == water["_owner"]
    resp = water["responsible"]
    assert resp["rule"] == "nearest_feature" and resp["feature_id"] == water["_feature"]
    truth = session.execute(
        text(
            "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)"
            " FROM network_features WHERE id = :id"
        ),
        {"x": water["lon"], "y": water["lat"], "id": water["_feature"]},
    ).scalar_one()
    assert resp["layer"] == "water_mains" and resp["distance_m"] == pytest.approx(truth, abs=0.1)
    assert resp["candidates"][0]["rank"] == 1 and resp["reason"].startswith("ближайший")
    assert water["municipality"]["slug"] == "gatchina"
    assert water["social_objects_cut_off"] == [{"name": "Школа № 1", "kind": "school"}]
    assert water["utilities_cut_off"] == ["heat"] and water["consumers_cut_off"] == 120
    reported = datetime.fromisoformat(water["reported_at"])
    assert datetime.fromisoformat(water["accept_due_at"]) - reported == timedelta(hours=1)
    assert datetime.fromisoformat(water["resolve_due_at"]) - reported == timedelta(hours=4)
    got = client.get(f"/api/incidents/{water['id']}")
    assert got.headers["ETag"] == f'"{water["version"]}"' and got.get_json() == {
        k: v for k, v in water.items() if not k.startswith("_")
    }
    events = client.get(f"/api/incidents/{water['id']}/events").get_json()["events"]
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("created", None, "new"),
        ("assign", "new", "assigned"),
    ]
    assert events[0]["actor"] == "dispatcher-gatchina"
    notes = client.get(f"/api/incidents/{water['id']}/notifications").get_json()["notifications"]
    assert [(n["event"], n["channel"], n["status"]) for n in notes] == [
        ("assigned", "email", "pending")
    ]


def test_location_header_and_geojson_list(water, client):
    body = assert_feature_collection(
        client.get("/api/incidents.geojson?status=assigned&utility=water")
    )
    feature = next(f for f in body["features"] if f["id"] == water["id"])
    assert feature["geometry"]["coordinates"] == [water["lon"], water["lat"]]
    assert feature["properties"]["operator"] == water["operator"]["name"]
    assert feature["properties"]["responsible_reason"] == water["responsible"]["reason"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=assigned", True),
        ("status=closed", False),
        ("utility=water", True),
        ("utility=gas", False),
        ("municipality=gatchinsky", True),
        ("municipality=kirishi", False),
        ("bbox={w},{s},{e},{n}", True),
        ("bbox=32,59,32.1,59.1", False),
        ("operator={op}", True),
        ("overdue=false", True),
        ("overdue=true", False),
        ("from={before}", True),
        ("to={before}", False),
    ],
)
def test_list_filters(water, client, query, expected):
    before = (datetime.fromisoformat(water["reported_at"]) - timedelta(minutes=1)).isoformat()
    query = query.format(
        w=water["lon"] - 0.001,
        s=water["lat"] - 0.001,
        e=water["lon"] + 0.001,
        n=water["lat"] + 0.001,
        op=water["operator"]["id"],
        before=before.replace("+", "%2B"),
    )
    body = client.get(f"/api/incidents?{query}&limit=1000").get_json()
    assert (water["id"] in [i["id"] for i in body["incidents"]]) is expected


def test_list_pages_by_id(client):
    first = client.get("/api/incidents?limit=3").get_json()
    assert first["numberReturned"] == 3 and first["links"][0]["rel"] == "next"
    ids = [i["id"] for i in first["incidents"]]
    assert ids == sorted(ids, reverse=True)
    second = client.get(first["links"][0]["href"]).get_json()
    assert second["incidents"][0]["id"] < ids[-1]


@pytest.mark.parametrize(
    "query, code",
    [
        ("status=lost", "invalid_status"),
        ("utility=steam", "unknown_utility"),
        ("municipality=atlantis", "unknown_municipality"),
        ("from=yesterday", "invalid_time"),
        ("overdue=maybe", "invalid_parameter"),
        ("bbox=1,2,3", "invalid_bbox"),
    ],
)
def test_list_bad_filters(client, query, code):
    assert_error(client.get(f"/api/incidents?{query}"), 400, code)


def test_full_lifecycle_by_the_right_roles(water, client_as, session):
    dispatcher, operator = client_as("dispatcher-gatchina"), client_as("operator")
    v = water["version"]
    # Only the assigned operator's staff accept; others are refused and nothing changes.
    for who in ("operator-gas", "planner", "dispatcher-gatchina"):
        assert_error(act(client_as(who), water, "accept", v), 403, "not_allowed")
    assert_error(act(dispatcher, water, "close", v), 409, "transition_not_allowed")
    r = act(operator, water, "accept", v, expected_at="2030-01-01T12:00:00+03:00")
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    assert (
        r.headers["ETag"] == f'"{v + 1}"'
        and r.get_json()["expected_at"] == "2030-01-01T09:00:00+00:00"
    )
    assert_error(act(operator, water, "start", v), 412, "precondition_failed")  # stale
    assert_error(act(operator, water, "start"), 428, "precondition_required")
    for action, status in (("start", "in_progress"), ("resolve", "resolved")):
        r = act(operator, water, action, r.get_json()["version"])
        assert r.get_json()["status"] == status, r.get_json()
    r = act(dispatcher, water, "close", r.get_json()["version"], comment="проверено")
    body = r.get_json()
    assert body["status"] == "closed" and body["closed_at"] and body["resolved_at"]
    events = dispatcher.get(f"/api/incidents/{water['id']}/events").get_json()["events"]
    moves = [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in events]
    assert moves[2:] == [
        ("accept", "assigned", "accepted", "operator-vodokanal-gatchina"),
        ("start", "accepted", "in_progress", "operator-vodokanal-gatchina"),
        ("resolve", "in_progress", "resolved", "operator-vodokanal-gatchina"),
        ("close", "resolved", "closed", "dispatcher-gatchina"),
    ]
    # Reopening needs a reason, goes back to the operator, and tells them.
    assert_error(act(dispatcher, water, "reopen", body["version"]), 400, "missing_field")
    r = act(dispatcher, water, "reopen", body["version"], comment="течь снова")
    assert r.get_json()["status"] == "assigned" and r.get_json()["closed_at"] is None
    notes = dispatcher.get(f"/api/incidents/{water['id']}/notifications").get_json()
    assert [n["event"] for n in notes["notifications"]] == ["assigned", "reopened"]


def test_reject_goes_back_to_the_dispatcher_who_assigns_another(water, client_as, session):
    operator, dispatcher = client_as("operator"), client_as("dispatcher")
    assert_error(act(operator, water, "reject", water["version"]), 400, "missing_field")
    r = act(operator, water, "reject", water["version"], comment="<b>не наше</b>: сеть ЛОКС")
    assert r.get_json()["status"] == "rejected"
    other = operator_id(session, "demo-vodokanal-kirishi")
    assert_error(
        act(dispatcher, water, "assign", r.get_json()["version"], operator_id=999999),
        400,
        "unknown_operator",
    )
    # A heat company does not take a water incident (issue 11).
    heat = operator_id(session, "demo-teploseti-gatchina")
    assert_error(
        act(dispatcher, water, "assign", r.get_json()["version"], operator_id=heat),
        400,
        "utility_not_served",
    )
    r = act(dispatcher, water, "assign", r.get_json()["version"], operator_id=other)
    assert r.get_json()["status"] == "assigned" and r.get_json()["operator"]["id"] == other
    # The first operator's staff may no longer touch it.
    assert_error(act(operator, water, "accept", r.get_json()["version"]), 403, "not_allowed")
    events = dispatcher.get(f"/api/incidents/{water['id']}/events").get_json()["events"]
    assert events[2]["comment"] == "<b>не наше</b>: сеть ЛОКС"


def test_reassign_needs_a_new_operator_and_a_reason(water, client_as, session):
    dispatcher = client_as("dispatcher")
    other = operator_id(session, "demo-vodokanal-kirishi")
    v = water["version"]
    assert_error(act(dispatcher, water, "reassign", v, operator_id=other), 400, "missing_field")
    assert_error(
        act(dispatcher, water, "reassign", v, operator_id=water["operator"]["id"], comment="x"),
        400,
        "invalid_field",
    )
    r = act(dispatcher, water, "reassign", v, operator_id=other, comment="сеть Киришей")
    assert r.get_json()["operator"]["id"] == other
    notes = dispatcher.get(f"/api/incidents/{water['id']}/notifications").get_json()
    assert [n["event"] for n in notes["notifications"]] == ["assigned", "reassigned"]


def test_concurrent_patches_one_wins_the_other_gets_412(water, client_as):
    a, b = client_as("dispatcher"), client_as("dispatcher-gatchina")
    url, match = f"/api/incidents/{water['id']}", {"If-Match": f'"{water["version"]}"'}
    first = a.patch(url, json={"priority": 1}, headers=match)
    assert first.status_code == 200 and first.get_json()["priority"] == 1
    assert_error(b.patch(url, json={"priority": 4}, headers=match), 412, "precondition_failed")
    body = a.get(url).get_json()
    assert body["priority"] == 1 and body["version"] == water["version"] + 1
    event = a.get(url + "/events").get_json()["events"][-1]
    assert event["action"] == "updated" and event["data"] == {"priority": {"from": 2, "to": 1}}


def test_operator_staff_patch_only_their_fields(water, client_as):
    op = client_as("operator")
    url, match = f"/api/incidents/{water['id']}", {"If-Match": f'"{water["version"]}"'}
    assert_error(op.patch(url, json={"priority": 1}, headers=match), 403, "not_allowed")
    r = op.patch(url, json={"consumers_cut_off": 300}, headers=match)
    assert r.get_json()["consumers_cut_off"] == 300
    assert_error(
        client_as("planner").patch(
            url, json={"address": "x"}, headers={"If-Match": r.headers["ETag"]}
        ),
        403,
        "not_allowed",
    )


BAD = [
    ({"lat": 59.56, "utility": "water", "description": "x"}, "missing_field"),
    ({"lon": 30.128, "lat": 59.565, "utility": "steam", "description": "x"}, "unknown_utility"),
    ({"lon": 30.128, "lat": 59.565, "utility": "water"}, "missing_field"),
    (
        {"lon": 30.128, "lat": 59.565, "utility": "water", "description": "x" * 4001},
        "text_too_long",
    ),
    (
        {"lon": 30.128, "lat": 59.565, "utility": "water", "description": "x", "kind": "fire"},
        "invalid_field",
    ),
    (
        {"lon": 30.128, "lat": 59.565, "utility": "water", "description": "x", "priority": 9},
        "invalid_field",
    ),
    (
        {"lon": 30.128, "lat": 59.565, "utility": "water", "description": "x", "colour": "red"},
        "unknown_field",
    ),
    (
        {
            "lon": 30.128,
            "lat": 59.565,
            "utility": "water",
            "description": "x",
            "utilities_cut_off": ["water"],
        },
        "invalid_field",
    ),
    (
        {
            "lon": 30.128,
            "lat": 59.565,
            "utility": "water",
            "description": "x",
            "supply_stopped_at": "2026-01-01T10:00",
        },
        "invalid_field",
    ),
    (
        {"lon": 20.0, "lat": 59.56, "utility": "water", "description": "x"},
        "point_outside_municipalities",
    ),
    (
        {
            "lon": 30.128,
            "lat": 59.565,
            "utility": "water",
            "description": "x",
            "feature_id": 999999999,
        },
        "feature_not_found",
    ),
]


@pytest.mark.parametrize("payload, code", BAD)
def test_bad_input_is_a_400_and_writes_nothing(client, session, payload, code):
    before = (count(session), count(session, "incident_events"), count(session, "notifications"))
    assert_error(post(client, payload), 400, code)
    assert (
        count(session),
        count(session, "incident_events"),
        count(session, "notifications"),
    ) == before


def test_not_json_and_unknown_incident(client):
    assert_error(
        client.post("/api/incidents", data="lon=1", content_type="text/plain"), 400, "invalid_body"
    )
    assert_error(client.get("/api/incidents/999999999"), 404, "incident_not_found")
    assert_error(act(client, 999999999, "accept", 1), 404, "incident_not_found")
    assert_error(act(client, 1, "explode", 1), 400, "unknown_action")


def test_roles_that_may_not_create(session, client_as):
    _, lon, lat, _ = quiet_main(session)
    payload = {"lon": lon, "lat": lat, "utility": "water", "description": "x"}
    before = count(session)
    assert_error(post(client_as("planner"), payload), 403, "forbidden")
    assert_error(post(client_as("operator"), payload), 403, "forbidden")
    _, lon, lat, _ = quiet_main(session, owner="demo-vodokanal-kirishi")
    kirishi = {"lon": lon, "lat": lat, "utility": "water", "description": "x"}
    assert_error(post(client_as("dispatcher-gatchina"), kirishi), 403, "not_your_municipality")
    assert count(session) == before
    assert post(client_as("dispatcher"), kirishi).status_code == 201  # the oblast's dispatcher


def test_html_is_stored_as_written(session, client):
    _, lon, lat, _ = quiet_main(session, 3)
    text_in = '<script>alert("x")</script><img src=x onerror=alert(1)> & «кавычки»'
    r = post(
        client,
        {
            "lon": lon,
            "lat": lat,
            "utility": "water",
            "description": text_in,
            "address": "<b>Ленина</b>",
        },
    )
    assert r.status_code == 201
    body = client.get(f"/api/incidents/{r.get_json()['id']}").get_json()
    assert body["description"] == text_in and body["address"] == "<b>Ленина</b>"
    assert client.get(f"/api/incidents/{body['id']}").mimetype == "application/json"
