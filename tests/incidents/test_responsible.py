"""The responsible operator: each rule, ties, the ranked losers, against real PostGIS geometry."""

from __future__ import annotations

import pytest
from helpers import assert_error
from sqlalchemy import text

from gis_app.operators.responsible import FeatureMismatch, find_responsible
from incidents.incident_helpers import at, line, square


def test_nearest_feature_wins_and_the_farther_owner_is_ranked(
    session, registry, make_operator, make_feature
):
    near_op, far_op = make_operator("t-near"), make_operator("t-far")
    near = make_feature(near_op, line((-50, 10), (50, 10)))  # 10 m north of the point
    far = make_feature(far_op, line((-50, -20), (50, -20)))  # 20 m south
    make_feature(far_op, line((-50, 40), (50, 40)))  # 40 m: beyond water_mains' 25 m
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "water", lon, lat)
    assert (found.operator_id, found.rule, found.feature_id) == (near_op, "nearest_feature", near)
    assert found.distance_m == pytest.approx(10, abs=0.2)
    assert found.layer == "water_mains" and "10.0 м" in found.reason
    # The reason names the layer as the dispatcher knows it, not by its id.
    title = registry.get("water_mains").title_ru
    assert f"«{title}»" in found.reason and "water_mains" not in found.reason
    assert registry.get("water_mains").title_en in found.reason_en
    features = [c for c in found.candidates if c.rule == "nearest_feature"]
    assert [c.feature_id for c in features] == [near, far]
    assert features[1].distance_m == pytest.approx(20, abs=0.2)
    assert features[1].lost_because_en.startswith("farther: 20.0 m")
    assert [c.rank for c in found.candidates] == list(range(1, len(found.candidates) + 1))


def test_distance_is_metres_on_the_spheroid(session, registry, make_operator, make_feature):
    op = make_operator("t-east")
    fid = make_feature(op, line((20, -50), (20, 50)))  # 20 m east: a longitude degree is short here
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "water", lon, lat)
    truth = session.execute(
        text(
            "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)"
            " FROM network_features WHERE id = :id"
        ),
        {"lon": lon, "lat": lat, "id": fid},
    ).scalar_one()
    assert found.feature_id == fid
    assert found.distance_m == pytest.approx(truth) == pytest.approx(20, abs=0.2)


def test_equal_distance_prefers_the_owner_serving_the_point_then_the_lower_id(
    session, registry, make_operator, make_feature, make_area
):
    a, b = make_operator("t-tie-a"), make_operator("t-tie-b")
    fa = make_feature(a, line((-15, -50), (-15, 50)))
    fb = make_feature(b, line((15, -50), (15, 50)))
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "water", lon, lat)
    assert (found.operator_id, found.feature_id) == (a, fa)  # lower id, nobody serves here
    assert "same distance" in found.candidates[1].lost_because_en
    make_area(b, square(-500, -500, 500, 500))
    found = find_responsible(session, registry, "water", lon, lat)
    assert (found.operator_id, found.feature_id) == (b, fb)  # b's area covers the point


def test_service_area_smallest_then_priority(session, registry, make_operator, make_area):
    big, small, rival = make_operator("t-big"), make_operator("t-small"), make_operator("t-rival")
    big_area = make_area(big, square(-2000, -2000, 2000, 2000), priority=90, name="big")
    small_area = make_area(small, square(-300, -300, 300, 300), priority=0, name="small")
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "water", lon, lat)
    assert (found.operator_id, found.rule, found.service_area_id) == (
        small,
        "service_area",
        small_area,
    )
    assert "small" in found.reason
    loser = next(c for c in found.candidates if c.service_area_id == big_area)
    assert loser.lost_because_en.startswith("larger area")
    # The same outline with a higher priority wins the tie of equal areas.
    rival_area = make_area(rival, square(-300, -300, 300, 300), priority=5, name="rival")
    found = find_responsible(session, registry, "water", lon, lat)
    assert (found.operator_id, found.service_area_id) == (rival, rival_area)
    assert "priority 0 against 5" in next(
        c.lost_because_en for c in found.candidates if c.service_area_id == small_area
    )


def test_designated_operator_then_unresolved(session, registry, make_operator):
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "water", lon, lat)
    assert (found.operator_id, found.rule, found.candidates) == (None, "unresolved", [])
    assert found.municipality == "Ленинградская область"
    op = make_operator("t-designated")
    session.execute(
        text(
            "INSERT INTO designated_operators SELECT id, 'water', :op FROM municipalities"
            " WHERE slug = 'leningrad-oblast'"
        ),
        {"op": op},
    )
    found = find_responsible(session, registry, "water", lon, lat)
    assert (found.operator_id, found.rule) == (op, "designated")


def test_oblast_wide_service_area_when_no_feature_near(session, registry):
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "gas", lon, lat)
    slug = session.execute(
        text("SELECT slug FROM operators WHERE id = :id"), {"id": found.operator_id}
    ).scalar_one()
    assert (slug, found.rule) == ("demo-gazraspredelenie", "service_area")
    # The oblast also designates it: a later rule that agrees.
    assert found.candidates[-1].rule == "designated"
    assert found.candidates[-1].lost_because_en.startswith("agrees")
    # The rule is named in words, not by its code.
    assert "назначение муниципалитетом" in found.candidates[-1].lost_because
    assert "designated" not in found.candidates[-1].lost_because


def test_selected_feature_decides_within_its_search_distance(
    session, registry, make_operator, make_feature
):
    near_op, chosen_op = make_operator("t-near2"), make_operator("t-chosen")
    make_feature(near_op, line((-50, 5), (50, 5)))
    chosen = make_feature(chosen_op, line((-50, -20), (50, -20)))
    too_far = make_feature(chosen_op, line((-50, 60), (50, 60)))
    heat = make_feature(
        chosen_op,
        line((-50, 0), (50, 0)),
        "heat_pipes",
        "heat",
        {"diameter_mm": 100, "pipe": "supply", "laying": "channel"},
    )
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "water", lon, lat, chosen)
    assert (found.operator_id, found.rule, found.feature_id) == (
        chosen_op,
        "selected_feature",
        chosen,
    )
    assert [c.feature_id for c in found.candidates].count(chosen) == 1
    with pytest.raises(FeatureMismatch) as exc:
        find_responsible(session, registry, "water", lon, lat, too_far)
    assert exc.value.code == "feature_too_far"
    with pytest.raises(FeatureMismatch) as exc:
        find_responsible(session, registry, "water", lon, lat, heat)
    assert exc.value.code == "feature_utility_mismatch"


def test_demo_incidents_route_to_the_owner_of_their_feature(session, registry):
    rows = session.execute(
        text(
            "SELECT i.utility_code, ST_X(i.geom), ST_Y(i.geom), f.operator_id, f.id"
            " FROM incidents i JOIN network_features f ON f.id = i.feature_id WHERE i.is_demo"
        )
    ).all()
    assert len(rows) >= 20
    for utility, lon, lat, owner, _feature in rows:
        found = find_responsible(session, registry, utility, lon, lat)
        assert found.rule == "nearest_feature" and found.operator_id == owner
        assert found.distance_m < 25


def test_small_heat_company_area_beats_the_town_area(session, registry):
    """In Gatchina a second heat company serves the blocks of its boiler house (priority 20)."""
    row = session.execute(
        text(
            "SELECT ST_X(c), ST_Y(c), s.operator_id FROM service_areas s"
            " JOIN operators o ON o.id = s.operator_id,"
            " LATERAL (SELECT ST_PointOnSurface(s.geom) AS c) p"
            " WHERE o.slug = 'demo-teploenergoservis-gatchina'"
        )
    ).one()
    lon, lat, small_op = row
    found = find_responsible(session, registry, "heat", lon, lat)
    assert found.operator_id == small_op


def test_api_responsible(client):
    body = client.get("/api/responsible?lon=31.0&lat=59.0&utility=gas").get_json()
    assert body["rule"] == "service_area" and body["operator"].startswith("ДЕМО")
    assert body["candidates"][0]["rank"] == 1 and body["reason_en"].startswith(
        "inside service area"
    )


@pytest.mark.parametrize(
    "query, code",
    [
        ("lat=59&utility=water", "missing_field"),
        ("lon=abc&lat=59&utility=water", "invalid_field"),
        ("lon=31&lat=95&utility=water", "invalid_field"),
        ("lon=31&lat=59&utility=steam", "unknown_utility"),
        ("lon=31&lat=59", "missing_field"),
        ("lon=31&lat=59&utility=water&feature_id=999999999", "feature_not_found"),
    ],
)
def test_api_responsible_bad_input(client, query, code):
    body = assert_error(client.get(f"/api/responsible?{query}"), 400, code)
    assert body["message"]


def test_api_responsible_needs_login(anon_client):
    assert_error(anon_client.get("/api/responsible?lon=31&lat=59&utility=gas"), 401, "unauthorized")


def test_a_match_that_does_not_declare_the_utility_is_flagged(
    session, registry, make_operator, make_feature
):
    stranger, declared = make_operator("t-stranger"), make_operator("t-declared")
    session.execute(text("INSERT INTO operator_utilities VALUES (:o, 'water')"), {"o": declared})
    make_feature(stranger, line((-50, 5), (50, 5)))
    make_feature(declared, line((-50, -10), (50, -10)))
    lon, lat = at(0, 0)
    found = find_responsible(session, registry, "water", lon, lat)
    flags = [(c.operator_id, c.takes_utility) for c in found.candidates]
    assert flags == [(stranger, False), (declared, True)]
