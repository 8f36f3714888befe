"""Open311 GeoReport v2: discovery, services, requests in and out, the spec's error format."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from incidents.incident_helpers import at

KEY = "test-open311-key"


@pytest.fixture
def open311(app, anon_client):
    app.config["GIS_APP_OPEN311_API_KEYS"] = f"other-key, {KEY}"
    yield anon_client
    app.config["GIS_APP_OPEN311_API_KEYS"] = ""


def assert_open311_error(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, list) and body[0]["code"] == status and body[0]["description"]
    return body[0]["description"]


def test_discovery_and_services_are_public_json(open311):
    disc = open311.get("/open311/v2/discovery.json").get_json()
    assert disc["endpoints"][0]["formats"] == ["application/json"]
    services = open311.get("/open311/v2/services.json").get_json()
    assert {s["service_code"] for s in services} >= {"water", "heat", "electricity", "gas"}
    assert set(services[0]) >= {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "group",
    }
    definition = open311.get("/open311/v2/services/water.json").get_json()
    attr = definition["attributes"][0]
    assert attr["code"] == "kind" and {v["key"] for v in attr["values"]} == {"accident", "incident"}
    assert_open311_error(open311.get("/open311/v2/services/steam.json"), 404)
    assert "xml" in assert_open311_error(open311.get("/open311/v2/services.xml"), 400)


def test_post_a_request_then_read_it_back(open311, session):
    lon, lat = at(0, 0)
    r = open311.post(
        "/open311/v2/requests.json",
        data={
            "api_key": KEY,
            "service_code": "gas",
            "lat": lat,
            "long": lon,
            "description": "Запах газа <script>x</script>",
            "first_name": "Иван",
            "email": "ivan@example.invalid",
            "attribute[kind]": "accident",
        },
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    (created,) = r.get_json()
    rid = created["service_request_id"]
    row = session.execute(
        text(
            "SELECT status, source, operator_id IS NOT NULL, reporter_contact, kind"
            " FROM incidents WHERE id = :id"
        ),
        {"id": int(rid)},
    ).one()
    assert tuple(row) == ("new", "open311", True, "Иван ivan@example.invalid", "accident")
    told = session.execute(
        text("SELECT event FROM notifications WHERE incident_id = :id AND target = :t"),
        {"id": int(rid), "t": "ivan@example.invalid"},
    ).scalars()
    assert list(told) == ["received"]  # the reporter gets the number (issue 15)
    (got,) = open311.get(f"/open311/v2/requests/{rid}.json").get_json()
    assert got["status"] == "open" and got["status_notes"] == "NEW"
    assert got["description"] == "Запах газа <script>x</script>"
    assert got["agency_responsible"].startswith("ДЕМО") and got["lat"] == pytest.approx(lat)
    assert datetime.fromisoformat(got["requested_datetime"]).tzinfo is not None
    assert "ivan" not in str(got)  # contacts are not published
    listed = open311.get(f"/open311/v2/requests.json?service_request_id={rid},999999999")
    assert [x["service_request_id"] for x in listed.get_json()] == [rid]
    by_filter = open311.get("/open311/v2/requests.json?service_code=gas&status=open").get_json()
    assert rid in [x["service_request_id"] for x in by_filter]
    closed = open311.get("/open311/v2/requests.json?service_code=gas&status=closed").get_json()
    assert rid not in [x["service_request_id"] for x in closed]


@pytest.mark.parametrize(
    "data, status",
    [
        ({"service_code": "gas", "lat": 59.0, "long": 31.0}, 403),
        ({"api_key": "wrong", "service_code": "gas", "lat": 59.0, "long": 31.0}, 403),
        ({"api_key": KEY, "service_code": "steam", "lat": 59.0, "long": 31.0}, 400),
        ({"api_key": KEY, "service_code": "gas", "address_string": "Гатчина"}, 400),
        ({"api_key": KEY, "service_code": "gas", "lat": 59.0, "long": 20.0}, 400),
        (
            {
                "api_key": KEY,
                "service_code": "gas",
                "lat": 59.0,
                "long": 31.0,
                "description": "x" * 4001,
            },
            400,
        ),
    ],
)
def test_post_errors_write_nothing(open311, session, data, status):
    before = session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    assert_open311_error(open311.post("/open311/v2/requests.json", data=data), status)
    assert session.execute(text("SELECT count(*) FROM incidents")).scalar_one() == before


@pytest.mark.parametrize(
    "query",
    [
        "start_date=2020-01-01T00:00:00Z&end_date=2021-01-01T00:00:00Z",
        "status=lost",
        "service_code=steam",
        "service_request_id=abc",
        "start_date=yesterday",
    ],
)
def test_get_errors(open311, query):
    assert_open311_error(open311.get(f"/open311/v2/requests.json?{query}"), 400)


def test_unknown_request_is_404(open311):
    assert_open311_error(open311.get("/open311/v2/requests/999999999.json"), 404)
