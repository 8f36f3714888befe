"""Authorization beyond the role matrix: utilities, municipalities, periods, webhooks (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers import assert_error
from sqlalchemy import text

from gis_app.incidents.webhook_targets import WebhookRefused, check_url, parse_allowed_hosts
from incidents.incident_helpers import operator_id
from incidents.test_incidents_api import act, quiet_main

NOW = datetime.now(UTC)


def box_in(session, slug: str, half_deg: float = 0.002) -> dict:
    """A small GeoJSON square around a point inside the municipality `slug`."""
    lon, lat = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM municipalities,"
            " LATERAL (SELECT ST_PointOnSurface(geom) AS p) s WHERE slug = :s"
        ),
        {"s": slug},
    ).one()
    ring = [
        [lon - half_deg, lat - half_deg],
        [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg],
        [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def outage(area: dict, utility: str = "water", hours: float = 4, start_h: float = 1, **extra):
    starts = NOW + timedelta(hours=start_h)
    return {
        "utility": utility,
        "title": "Замена задвижки",
        "area": area,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=hours)).isoformat(),
        **extra,
    }


def test_operator_announces_only_its_utilities_where_it_works(session, client_as):
    gatchina, kirishi = box_in(session, "gatchina"), box_in(session, "kirishi")
    water_co, gas_co = client_as("operator"), client_as("operator-gas")
    assert water_co.post("/api/planned-outages", json=outage(gatchina)).status_code == 201
    # The oblast-wide gas company may not cut water off over Gatchina...
    assert_error(
        gas_co.post("/api/planned-outages", json=outage(gatchina)), 403, "utility_not_served"
    )
    # ...nor the Gatchina water company in Kirishi.
    assert_error(
        water_co.post("/api/planned-outages", json=outage(kirishi)),
        403,
        "outside_operator_municipalities",
    )
    assert_error(
        client_as("admin").post(
            "/api/planned-outages",
            json=outage(kirishi, operator_id=operator_id(session, "demo-vodokanal-gatchina")),
        ),
        403,
        "outside_operator_municipalities",
    )
    # Gas over Gatchina by the gas company is its remit (it works in the whole oblast).
    assert gas_co.post("/api/planned-outages", json=outage(gatchina, "gas")).status_code == 201


def test_outage_period_is_bounded_unless_an_admin_announces_it(session, client_as):
    gatchina = box_in(session, "gatchina")
    water_co = client_as("operator")
    long = outage(gatchina, hours=24 * 365 * 10)  # the 2036 outage of the review
    err = assert_error(water_co.post("/api/planned-outages", json=long), 400, "outage_too_long")
    assert err["details"]["max_days"] == 14
    assert_error(
        water_co.post("/api/planned-outages", json=outage(gatchina, start_h=-72)),
        400,
        "outage_in_the_past",
    )
    # An hour ago is fine (work reported a little late).
    assert (
        water_co.post("/api/planned-outages", json=outage(gatchina, start_h=-1)).status_code == 201
    )
    own = operator_id(session, "demo-vodokanal-gatchina")
    admin = client_as("admin").post("/api/planned-outages", json={**long, "operator_id": own})
    assert admin.status_code == 201, admin.get_json()
    count = session.execute(
        text("SELECT count(*) FROM planned_outages WHERE ends_at > now() + interval '5 years'")
    ).scalar_one()
    assert count == 1


def test_outage_limits_follow_the_settings(app, session, client_as, monkeypatch):
    monkeypatch.setitem(app.config, "GIS_APP_MAX_OUTAGE_DAYS", 1)
    r = client_as("operator").post(
        "/api/planned-outages", json=outage(box_in(session, "gatchina"), hours=30)
    )
    assert assert_error(r, 400, "outage_too_long")["details"]["max_days"] == 1


@pytest.fixture
def water(session, client_as):
    fid, lon, lat, owner = quiet_main(session, 3)
    r = client_as("dispatcher-gatchina").post(
        "/api/incidents",
        json={"lon": lon, "lat": lat, "utility": "water", "description": "нет воды"},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_dispatcher_links_duplicates_only_within_their_municipalities(session, client_as, water):
    # An open water incident in Kirishi (the oblast dispatcher reports it).
    fid, lon, lat, owner = quiet_main(session, 0, owner="demo-vodokanal-kirishi")
    far = client_as("dispatcher").post(
        "/api/incidents",
        json={"lon": lon, "lat": lat, "utility": "water", "description": "течь"},
    )
    far = far.get_json()
    assert far["municipality"]["slug"] == "kirishi"
    gatchina = client_as("dispatcher-gatchina")
    err = assert_error(
        act(gatchina, water, "duplicate", water["version"], duplicate_of=far["id"]),
        403,
        "not_your_municipality",
    )
    assert err["details"]["duplicate_of"] == far["id"]
    # The oblast's dispatcher may (both are in their charge).
    r = act(client_as("dispatcher"), water, "duplicate", water["version"], duplicate_of=far["id"])
    assert r.status_code == 200 and r.get_json()["duplicate_of"] == far["id"]


def test_operator_sets_expected_at_only_once_accepted(client_as, water):
    op = client_as("operator")
    when = (NOW + timedelta(hours=3)).isoformat()
    assert water["status"] == "assigned"

    def patch(version: int):
        return op.patch(
            f"/api/incidents/{water['id']}",
            json={"expected_at": when},
            headers={"If-Match": f'"{version}"'},
        )

    assert_error(patch(water["version"]), 403, "not_accepted")
    accepted = act(op, water, "accept", water["version"]).get_json()
    r = patch(accepted["version"])
    assert r.status_code == 200
    assert datetime.fromisoformat(r.get_json()["expected_at"]) == datetime.fromisoformat(when)
    # Another operator's staff may not, accepted or not.
    assert_error(
        client_as("operator-gas").patch(
            f"/api/incidents/{water['id']}",
            json={"expected_at": when},
            headers={"If-Match": f'"{r.get_json()["version"]}"'},
        ),
        403,
        "not_allowed",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:10.1.2.3]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://100.100.100.200/",  # a cloud's metadata in the shared range
        "http://0.0.0.0:5000/",
        "http://2130706433/",  # 127.0.0.1 written as one number
    ],
)
def test_webhook_to_a_non_public_address_is_refused(client_as, session, url):
    own = operator_id(session, "demo-vodokanal-gatchina")
    r = client_as("operator").put(f"/api/operators/{own}/webhook", json={"url": url})
    assert_error(r, 400, "webhook_refused")
    stored = session.execute(
        text("SELECT webhook_url FROM operators WHERE id = :id"), {"id": own}
    ).scalar_one()
    assert stored is None


def test_admin_allows_a_host_of_the_closed_network(app, client_as, session, monkeypatch):
    monkeypatch.setitem(app.config, "GIS_APP_WEBHOOK_ALLOWED_HOSTS", "10.0.0.5, ads.local")
    own = operator_id(session, "demo-vodokanal-gatchina")
    op = client_as("operator")
    assert (
        op.put(f"/api/operators/{own}/webhook", json={"url": "http://10.0.0.5/h"}).status_code
        == 200
    )
    assert (
        op.put(f"/api/operators/{own}/webhook", json={"url": "http://ADS.local/h"}).status_code
        == 200
    )
    refused = op.put(f"/api/operators/{own}/webhook", json={"url": "http://10.0.0.6/h"})
    assert_error(refused, 400, "webhook_refused")


def test_check_url_judges_every_resolved_address():
    def resolver(answers):
        return lambda host, port: answers

    check_url("https://hooks.example.org/x", resolver=resolver(["93.184.216.34"]))
    with pytest.raises(WebhookRefused, match="10.0.0.7"):
        check_url("https://h.example.org/", resolver=resolver(["93.184.216.34", "10.0.0.7"]))
    with pytest.raises(WebhookRefused, match="fe80::1"):
        check_url("https://h.example.org/", resolver=resolver(["fe80::1%eth0"]))

    def nowhere(host, port):
        raise OSError("no such host")

    check_url("https://unknown.invalid/", resolver=nowhere)  # set time: the DNS may learn it
    with pytest.raises(WebhookRefused, match="does not resolve"):
        check_url("https://unknown.invalid/", must_resolve=True, resolver=nowhere)
    assert parse_allowed_hosts(" A.local ,[::1],") == {"a.local", "::1"}
