"""Importing boundary files (API and rules) and the chain of units at a point, on small made-up
units in a quiet corner of the demo oblast (33.9-34.2 E, 60.1-60.2 N: no demo unit but the oblast)."""

from __future__ import annotations

import json

import pytest
from helpers import assert_error
from sqlalchemy import text


def square(w, s, e, n):
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def fc(*features):
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def unit(name, geometry, oktmo=None, kind=None):
    props = {"name": name}
    if oktmo is not None:
        props["oktmo"] = oktmo
    if kind is not None:
        props["kind"] = kind
    return {"type": "Feature", "properties": props, "geometry": geometry}


# A and B overlap in 33.99-34.00; C leaves a 0.002° (about 110 m) gap east of B; S lies in A.
A = unit("Тестовый район А", square(33.90, 60.10, 34.00, 60.20), "41999000", "муниципальный район")
B = unit("Тестовый район Б", square(33.99, 60.10, 34.10, 60.20), "41998000", "municipal_district")
C = unit("Тестовый округ В", square(34.102, 60.10, 34.20, 60.20), "41997000", "municipal_okrug")
S = unit("Тестовое городское поселение", square(33.985, 60.14, 33.998, 60.16), "41999101")


def post(client, body, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(
        f"/api/municipalities/import?{query}", data=body, content_type="application/geo+json"
    )


def count(session) -> int:
    return session.execute(text("SELECT count(*) FROM municipalities")).scalar_one()


def at(client, lon, lat) -> dict:
    response = client.get(f"/api/municipalities/at?lon={lon}&lat={lat}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_import_then_each_rule_of_the_chain(client, session):
    before = count(session)
    response = post(client, fc(A, B, C, S))
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert (report["added"], report["rejected"], report["features"]) == (4, 0, 4)
    assert count(session) == before + 4
    units = {u["name"]: u for u in report["units"]}
    assert units[S["properties"]["name"]]["kind"] == "urban_settlement"  # from its name
    assert units[S["properties"]["name"]]["parent_by"] == "OKTMO 41999000"
    assert units[S["properties"]["name"]]["parent_id"] == units["Тестовый район А"]["id"]
    demo_oblast = session.execute(text("SELECT id FROM municipalities WHERE kind = 'oblast'"))
    assert units["Тестовый район Б"]["parent_id"] == demo_oblast.scalar_one()

    only_a = at(client, 33.95, 60.15)
    assert [u["name_ru"] for u in only_a["units"]] == ["Тестовый район А", "Ленинградская область"]
    assert only_a["rule"] == "covers" and only_a["units"][0]["oktmo"] == "41999000"

    in_s_and_overlap = at(client, 33.995, 60.15)
    assert [u["rule"] for u in in_s_and_overlap["units"]] == ["covers", "overlap_parent", "covers"]
    assert in_s_and_overlap["units"][1]["name_ru"] == "Тестовый район А"

    overlap_only = at(client, 33.995, 60.12)
    assert overlap_only["units"][0]["rule"] == "overlap_smallest"
    assert overlap_only["units"][0]["name_ru"] == "Тестовый район А"  # 0.10° wide, B 0.11°

    sliver = at(client, 34.1007, 60.15)
    assert sliver["rule"] == "nearest_within"
    assert sliver["units"][0]["name_ru"] == "Тестовый район Б"
    assert 30 < sliver["units"][0]["distance_m"] < 45  # 0.0007° of longitude at 60.15° N

    outside = at(client, 20.0, 55.0)
    assert outside["units"] == [] and outside["rule"] == "outside"
    assert outside["nearest"]["kind"] and outside["nearest"]["distance_m"] > 100_000

    changes = session.execute(
        text(
            "SELECT count(*) FROM admin_changes WHERE entity = 'municipality' AND action = 'added'"
        )
    ).scalar_one()
    assert changes == 4


def test_reimport_updates_in_place_and_replace_retires(client, session):
    first = post(client, fc(A, B)).get_json()
    ids = {u["name"]: u["id"] for u in first["units"]}
    again = post(client, fc(A, B)).get_json()
    assert (again["added"], again["unchanged"]) == (0, 2)
    moved = unit(A["properties"]["name"], square(33.90, 60.10, 33.99, 60.20), "41999000")
    replaced = post(client, fc(moved), mode="replace").get_json()
    assert (replaced["changed"], replaced["retired"]) == (1, 1)
    assert replaced["units"][0]["id"] == ids["Тестовый район А"]
    assert [r["name_ru"] for r in replaced["retired_units"]] == ["Тестовый район Б"]
    # B keeps its row (history points at it) but no longer answers for its land.
    assert at(client, 34.05, 60.15)["units"][0]["kind"] == "oblast"


def test_dry_run_reports_and_writes_nothing(client, session):
    before = count(session)
    report = post(client, fc(A, B), dry_run="true").get_json()
    assert report["dry_run"] is True and report["added"] == 2
    assert count(session) == before


def bowtie():
    return {"type": "Polygon", "coordinates": [[[34, 60], [34.1, 60.1], [34.1, 60], [34, 60.1],
                                                [34, 60]]]}  # fmt: skip


def test_bad_features_fail_the_whole_file_naming_each(client, session):
    before = count(session)
    clash = unit("Тестовый район А", square(33.5, 60.1, 33.6, 60.2), "41999000")
    bad = [
        A,
        unit("", square(33.6, 60.1, 33.7, 60.2), kind="municipal_district"),
        unit("Без вида", square(33.7, 60.1, 33.8, 60.2), kind="волость"),
        clash,
        unit("Далеко", square(20.0, 55.0, 20.1, 55.1), kind="municipal_district"),
        unit("В метрах", square(500000, 6600000, 510000, 6610000), kind="municipal_district"),
        unit("Бантик", bowtie(), kind="municipal_district"),
    ]
    response = post(client, fc(*bad))
    body = assert_error(response, 422, "import_failed")
    details = body["details"]
    assert details["rejected"] == 6 and count(session) == before
    reasons = {r["index"]: r["reason"] for r in details["rejected_features"]}
    assert reasons[1].startswith("name: empty")
    assert "kind: unknown 'волость'" in reasons[2]
    assert "oktmo: 41999000 also of feature #0" in reasons[3]
    assert "outside the oblast" in reasons[4]
    assert "not longitude/latitude" in reasons[5]
    assert "Self-intersection" in reasons[6] and "only self-touching" in reasons[6]
    assert sum(group["count"] for group in details["reasons"]) == 6


def test_a_ring_that_touches_itself_is_repaired(client, session):
    # A square whose ring passes twice through (34.0, 60.15): valid after make_valid, two parts.
    ring = [[33.9, 60.1], [34.0, 60.1], [34.0, 60.15], [34.05, 60.12], [34.05, 60.18],
            [34.0, 60.15], [34.0, 60.2], [33.9, 60.2], [33.9, 60.1]]  # fmt: skip
    touching = unit("Петля", {"type": "Polygon", "coordinates": [ring]}, kind="municipal_okrug")
    report = post(client, fc(touching)).get_json()
    assert report["repaired"] == 1 and report["added"] == 1
    assert at(client, 34.03, 60.15)["units"][0]["name_ru"] == "Петля"


def test_name_clash_with_a_different_oktmo_is_refused(client, session):
    post(client, fc(A))
    other = unit("Тестовый район А", square(33.90, 60.10, 34.00, 60.20), "41999555", "район")
    body = assert_error(post(client, fc(other)), 422, "import_failed")
    assert "exists with OKTMO 41999000" in body["details"]["rejected_features"][0]["reason"]


@pytest.mark.parametrize(
    ("params", "code"),
    [({"mode": "merge"}, "invalid_parameter"), ({"name_field": "nom"}, "unknown_field"),
     ({"kind": "county"}, "invalid_parameter")],
)  # fmt: skip
def test_bad_parameters_are_400(client, session, params, code):
    before = count(session)
    assert_error(post(client, fc(A), **params), 400, code)
    assert count(session) == before


def test_only_admins_import(client_as, session):
    assert_error(post(client_as("dispatcher"), fc(A)), 403, "forbidden")


def test_at_needs_coordinates(client):
    assert_error(client.get("/api/municipalities/at?lon=30"), 400, "missing_field")


def test_the_municipalities_page_imports_a_file(client, client_as, session):
    import io

    page = client.get("/admin/municipalities").get_data(as_text=True)
    assert "<h1>Муниципальные образования</h1>" in page and 'data-slug="gatchina"' in page
    before = count(session)
    form = {"file": (io.BytesIO(fc(A, B)), "units.geojson"), "dry_run": "true"}
    dry = client.post("/admin/municipalities", data=form, content_type="multipart/form-data")
    assert dry.status_code == 200 and count(session) == before
    form = {"file": (io.BytesIO(fc(A, B)), "units.geojson")}
    done = client.post("/admin/municipalities", data=form, content_type="multipart/form-data")
    assert done.status_code == 200 and count(session) == before + 2
    assert "Тестовый район Б" in done.get_data(as_text=True)
    nameless = unit("", square(33.6, 60.1, 33.7, 60.2), kind="municipal_district")
    form = {"file": (io.BytesIO(fc(nameless)), "bad.geojson")}
    bad = client.post("/admin/municipalities", data=form, content_type="multipart/form-data")
    assert bad.status_code == 422 and "1 × name: empty" in bad.get_data(as_text=True)
    assert count(session) == before + 2
    reader = client_as("planner").get("/admin/municipalities").get_data(as_text=True)
    assert "<form" not in reader


def test_an_official_unit_takes_over_the_demo_unit_of_its_oktmo(client, session):
    demo_id = session.execute(text("SELECT id FROM municipalities WHERE slug = 'gatchinsky'"))
    demo_id = demo_id.scalar_one()
    official = unit("Гатчинский муниципальный округ", square(29.6, 59.2, 30.5, 59.75), "41618000",
                    "municipal_okrug")  # fmt: skip
    report = post(client, fc(official)).get_json()
    assert report["changed"] == 1 and report["units"][0]["id"] == demo_id
    row = session.execute(text("SELECT is_demo, kind FROM municipalities WHERE id = :i"),
                          {"i": demo_id}).one()  # fmt: skip
    assert tuple(row) == (False, "municipal_okrug")  # real now: the demo no longer loads over it


def test_retiring_a_unit_keeps_its_accounts_and_incidents(client, session):
    gatchina = session.execute(text("SELECT id FROM municipalities WHERE slug = 'gatchinsky'"))
    gatchina = gatchina.scalar_one()
    links = "SELECT count(*) FROM user_municipalities WHERE municipality_id = :m"
    incidents = "SELECT count(*) FROM incidents WHERE municipality_id = :m"
    before = [session.execute(text(q), {"m": gatchina}).scalar() for q in (links, incidents)]
    assert_error(client.post("/api/admin/municipalities/gatchinsky/retire", json={}), 400,
                 "missing_field")  # fmt: skip
    done = client.post("/api/admin/municipalities/gatchinsky/retire", json={"reason": "test"})
    assert done.status_code == 200, done.get_json()
    after = [session.execute(text(q), {"m": gatchina}).scalar() for q in (links, incidents)]
    assert after == before and before[0] >= 1
    chain = [u["kind"] for u in at(client, 30.128, 59.565)["units"]]
    assert chain == ["urban_settlement", "oblast"]  # the town stays; its okrug no longer answers
    assert_error(client.post("/api/admin/municipalities/gatchinsky/retire", json={"reason": "x"}),
                 409, "unit_retired")  # fmt: skip
