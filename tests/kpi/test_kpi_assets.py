"""The failure history per asset: by material, diameter, age and layer, and the most failed."""

from __future__ import annotations

import json

import pytest
from helpers import assert_error
from sqlalchemy import text

from kpi.history import msk


@pytest.fixture
def failures(session, operators):
    """Three water mains of operator A (two of a test material, lengths ~1 km and ~0.5 km), and
    March 2021 incidents on them: F1 twice (plus a merged duplicate), F2 once."""

    def feature(material: str, diameter: int, year: int, east_km: float) -> int:
        return session.execute(
            text(
                "INSERT INTO network_features (layer_id, utility_code, operator_id, external_id,"
                " attributes, geom) VALUES ('water_mains', 'water', :o, :x, CAST(:a AS jsonb),"
                " ST_MakeLine(ST_SetSRID(ST_MakePoint(31.0, 59.0), 4326),"
                " ST_SetSRID(ST_MakePoint(31.0 + :e / 57.3, 59.0), 4326))) RETURNING id"
            ),
            {
                "o": operators["A"],
                "x": f"T-{material}-{diameter}",
                "e": east_km,
                "a": json.dumps(
                    {"material": material, "diameter_mm": diameter, "year_built": year}
                ),
            },
        ).scalar_one()

    f1 = feature("t-steel", 200, 1975, 1.0)
    f2 = feature("t-pe", 110, 2015, 0.5)
    f3 = feature("t-steel", 300, 1980, 1.0)
    for n, (fid, dup) in enumerate([(f1, False), (f1, False), (f1, True), (f2, False)]):
        at = msk("2021-03-02", f"1{n}:00")
        iid = session.execute(
            text(
                "INSERT INTO incidents (utility_code, status, operator_id, feature_id,"
                " reported_at, geom) VALUES ('water', :st, :o, :f, :at,"
                " ST_SetSRID(ST_MakePoint(31, 59), 4326)) RETURNING id"
            ),
            {"st": "duplicate" if dup else "new", "o": operators["A"], "f": fid, "at": at},
        ).scalar_one()
        events = [("created", "new")] + ([("duplicate", "duplicate")] if dup else [])
        for action, to in events:
            session.execute(
                text(
                    "INSERT INTO incident_events (incident_id, at, actor, action, to_status)"
                    " VALUES (:i, :at, 't', :a, :t)"
                ),
                {"i": iid, "at": at, "a": action, "t": to},
            )
    session.flush()
    return {"F1": f1, "F2": f2, "F3": f3}


def test_failures_by_material_and_age(client, failures):
    body = client.get("/api/kpi/assets?utility=water&by=material&period=2021-03").get_json()
    rows = {r["class"]: r for r in body["rows"]}
    steel = rows["t-steel"]
    assert (steel["features"], steel["failures"], steel["failed_features"]) == (2, 2, 1)
    assert steel["km"] == pytest.approx(2.0, rel=0.01)  # two mains of ~1 km at 59° N
    assert steel["failures_per_100km"] == pytest.approx(2 / steel["km"] * 100, rel=1e-3)
    assert rows["t-pe"]["failures"] == 1 and rows["t-pe"]["failures_per_feature"] == 1.0
    ages = client.get("/api/kpi/assets?utility=water&by=age&period=2021").get_json()["rows"]
    by_age = {r["class"]: r["failures"] for r in ages}
    assert by_age["40–49"] == 2 and by_age["0–9"] == 1  # built 1975 and 2015, at 2021
    csv_text = client.get("/api/kpi/assets?utility=water&by=diameter&period=2021&format=csv")
    assert csv_text.mimetype == "text/csv" and "failures_per_100km" in csv_text.get_data(
        as_text=True
    )


def test_most_failed_features_as_a_layer(client, failures):
    r = client.get("/api/kpi/assets.geojson?utility=water&period=2021-03&limit=2")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    fc = r.get_json()
    assert [f["id"] for f in fc["features"]] == [failures["F1"], failures["F2"]]
    assert fc["features"][0]["properties"]["failures"] == 2
    assert fc["features"][0]["geometry"]["type"] == "LineString"


def test_operator_staff_see_their_network_only(client_as, failures):
    gas = client_as("operator-gas").get("/api/kpi/assets?utility=water&by=material&period=2021-03")
    assert "t-steel" not in {r["class"] for r in gas.get_json()["rows"]}


def test_bad_asset_parameters(client):
    assert_error(client.get("/api/kpi/assets?utility=steam"), 400, "unknown_utility")
    assert_error(client.get("/api/kpi/assets?utility=water&by=colour"), 400, "invalid_parameter")
