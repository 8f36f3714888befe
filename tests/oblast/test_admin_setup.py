"""An admin sets the oblast up without SQL: operators (INN checked), service areas from a file,
designations, utilities (hot water routed to the heat company), retiring an operator with its
open incidents handed over; every change recorded; bad input 4xx with nothing written."""

from __future__ import annotations

import json

import pytest
from helpers import assert_error
from sqlalchemy import text

from gis_app.cli import main
from gis_app.demo.operators import demo_inn
from gis_app.operators.admin import inn_problem

GATCHINA = (30.128, 59.565)  # the demo town's centre


def operator_body(**extra):
    return {"slug": "real-heat", "full_name": "АО «Тепло»", "short_name": "Тепло",
            "inn": demo_inn(4242), "dispatch_phone": "+7 (81371) 2-22-22",
            "dispatch_email": "ads@teplo.example", "utilities": ["heat"],
            "municipalities": ["gatchina"], **extra}  # fmt: skip


def count(session, table: str) -> int:
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def create(client, **extra):
    return client.post("/api/admin/operators", json=operator_body(**extra))


def test_inn_check_digits():
    assert inn_problem("7707083893") is None  # a 10-digit INN with its check digit
    assert "check digit" in inn_problem("7707083894")
    assert inn_problem("500100732259") is None  # a 12-digit one
    assert "10 digits" in inn_problem("12345")


def test_create_then_edit_an_operator_recorded_before_after(client, session):
    response = create(client)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["utilities"] == ["heat"] and created["municipalities"] == ["gatchina"]
    edited = client.patch("/api/admin/operators/real-heat",
                          json={"dispatch_phone": "+7 (81371) 3-33-33", "utilities": ["heat", "hot_water"]})  # fmt: skip
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["utilities"] == ["heat", "hot_water"]
    changes = client.get("/api/admin/changes?entity=operator&key=real-heat").get_json()["changes"]
    assert [c["action"] for c in changes] == ["updated", "created"]
    assert changes[0]["before"]["dispatch_phone"] == "+7 (81371) 2-22-22"
    assert changes[0]["after"]["dispatch_phone"] == "+7 (81371) 3-33-33"
    assert changes[0]["username"] == "admin"


@pytest.mark.parametrize(
    ("extra", "status", "code", "field"),
    [({"inn": "7707083894"}, 400, "invalid_field", "inn"),
     ({"utilities": ["heat", "teleportation"]}, 400, "invalid_field", "utilities"),
     ({"municipalities": ["atlantis"]}, 400, "invalid_field", "municipalities"),
     ({"dispatch_email": "nobody"}, 400, "invalid_field", "dispatch_email"),
     ({"webhook_url": "ftp://x"}, 400, "invalid_field", "webhook_url"),
     ({"slug": "Bad Slug"}, 400, "invalid_field", "slug"),
     ({"colour": "red"}, 400, "unknown_field", None),
     ({"slug": "demo-gazraspredelenie"}, 409, "slug_taken", "slug")],
)  # fmt: skip
def test_bad_operator_input_is_refused_and_nothing_written(client, session, extra, status, code,
                                                           field):  # fmt: skip
    before = (count(session, "operators"), count(session, "admin_changes"))
    body = assert_error(create(client, **extra), status, code)
    if field:
        assert field in body["message"]
    assert (count(session, "operators"), count(session, "admin_changes")) == before


def test_only_admins_set_up(client_as):
    dispatcher = client_as("dispatcher")
    assert_error(dispatcher.post("/api/admin/operators", json=operator_body()), 403, "forbidden")
    assert dispatcher.get("/api/admin/changes").status_code == 200  # reading is for every role
    assert_error(dispatcher.put("/api/admin/designations", json={}), 403, "forbidden")


def test_hot_water_goes_to_the_heat_company_not_the_vodokanal(client):
    found = client.get(f"/api/responsible?lon={GATCHINA[0]}&lat={GATCHINA[1]}"
                       "&utility=hot_water").get_json()  # fmt: skip
    assert "Тепловые сети" in found["operator"], found


def test_designation_needs_an_operator_that_serves_the_utility(client, session):
    assert create(client).status_code == 201
    wrong = {"municipality": "gatchinsky", "utility": "hot_water", "operator": "real-heat"}
    assert_error(client.put("/api/admin/designations", json=wrong), 403, "wrong_utility")
    client.patch("/api/admin/operators/real-heat", json={"utilities": ["heat", "hot_water"]})
    done = client.put("/api/admin/designations", json=wrong).get_json()
    assert done["operator"] == "real-heat" and done["before"].startswith("demo-")
    row = session.execute(text(
        "SELECT o.slug FROM designated_operators d JOIN operators o ON o.id = d.operator_id"
        " JOIN municipalities m ON m.id = d.municipality_id"
        " WHERE m.slug = 'gatchinsky' AND d.utility_code = 'hot_water'")).scalar()  # fmt: skip
    assert row == "real-heat"
    assert_error(client.put("/api/admin/designations", json={**wrong, "municipality": "x"}), 404,
                 "municipality_not_found")  # fmt: skip


def square(w, s, e, n, **props):
    return {"type": "Feature", "properties": props, "geometry": {
        "type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}}  # fmt: skip


def import_areas(client, features, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(f"/api/admin/service-areas/import?{query}", content_type="application/geo+json",
                       data=json.dumps({"type": "FeatureCollection", "features": features}))  # fmt: skip


def test_service_areas_from_a_file_route_incidents(client, session):
    assert create(client).status_code == 201
    areas = [square(30.12, 59.56, 30.14, 59.57, name="Центр", prio=90),
             square(30.14, 59.56, 30.16, 59.57, name="Восток", prio=80)]  # fmt: skip
    report = import_areas(client, areas, operator="real-heat", utility="heat", name_field="name",
                          priority_field="prio").get_json()  # fmt: skip
    assert report["added"] == 2 and [a["name"] for a in report["areas"]] == ["Центр", "Восток"]
    found = client.get("/api/responsible?lon=30.13&lat=59.565&utility=heat").get_json()
    assert any(c["operator"] == "Тепло" for c in found["candidates"]), found
    recorded = client.get("/api/admin/changes?entity=service_area").get_json()["changes"]
    assert {c["after"]["name"] for c in recorded[:2]} == {"Центр", "Восток"}


def test_bad_service_areas_are_refused_and_nothing_written(client, session):
    assert create(client).status_code == 201
    before = count(session, "service_areas")
    assert_error(import_areas(client, [square(30.12, 59.56, 30.14, 59.57)], operator="real-heat",
                              utility="water"), 403, "wrong_utility")  # fmt: skip
    far = [square(30.12, 59.56, 30.14, 59.57), square(20.0, 55.0, 20.1, 55.1)]
    body = assert_error(import_areas(client, far, operator="real-heat", utility="heat"), 422,
                        "import_failed")  # fmt: skip
    assert body["details"]["rejected_features"][0]["index"] == 1
    assert_error(import_areas(client, far, operator="real-heat"), 400, "missing_field")
    assert count(session, "service_areas") == before


def test_retiring_an_operator_hands_everything_over_and_deletes_nothing(client, client_as,
                                                                        session):  # fmt: skip
    gorset = session.execute(text("SELECT id FROM operators WHERE slug = 'demo-gorset-gatchina'"))
    gorset = gorset.scalar_one()
    open_ids = session.execute(text(
        "SELECT id FROM incidents WHERE operator_id = :o AND status IN"
        " ('new', 'assigned', 'accepted', 'in_progress', 'rejected')"), {"o": gorset},
    ).scalars().all()  # fmt: skip
    staff = count(session, "users")
    lacking = {"successor": "demo-vodokanal-gatchina", "reason": "реорганизация"}
    assert_error(client.post("/api/admin/operators/demo-gorset-gatchina/retire", json=lacking),
                 409, "successor_lacks_utilities")  # fmt: skip
    assert create(client, slug="real-grid", utilities=["electricity"]).status_code == 201
    done = client.post("/api/admin/operators/demo-gorset-gatchina/retire",
                       json={"successor": "real-grid", "reason": "реорганизация"})  # fmt: skip
    assert done.status_code == 200, done.get_json()
    moved = done.get_json()["handed_over"]
    assert moved["incidents"] == len(open_ids) and moved["network_features"] > 100
    assert moved["staff_disabled"] == 1
    assert count(session, "users") == staff  # disabled, not deleted
    owners = session.execute(text("SELECT DISTINCT o.slug FROM incidents i JOIN operators o"
                                  " ON o.id = i.operator_id WHERE i.id = ANY(:ids)"),
                             {"ids": open_ids}).scalars().all()  # fmt: skip
    assert owners in ([], ["real-grid"])
    if open_ids:
        event = session.execute(text("SELECT action FROM incident_events WHERE incident_id = :i"
                                     " ORDER BY id DESC LIMIT 1"), {"i": open_ids[0]}).scalar()  # fmt: skip
        assert event == "handed_over"
    found = client.get("/api/responsible?lon=30.13&lat=59.565&utility=electricity").get_json()
    assert found["operator"] != "ДЕМО Горэлектросеть Гатчины"
    assert client.get("/api/admin/operators/demo-gorset-gatchina").get_json()["retired_at"]
    assert_error(client.post("/api/admin/operators/demo-gorset-gatchina/retire",
                             json={"successor": "real-grid", "reason": "x"}), 409,
                 "operator_retired")  # fmt: skip


def test_a_utility_is_a_row(client, session):
    row = {"code": "telecom", "name_ru": "Связь", "name_en": "Telecom", "color": "#6a3d9a"}
    assert client.post("/api/admin/utilities", json=row).status_code == 201
    codes = [u["code"] for u in client.get("/api/utilities").get_json()["utilities"]]
    assert "telecom" in codes
    assert_error(client.post("/api/admin/utilities", json=row), 409, "utility_exists")
    assert_error(client.post("/api/admin/utilities", json={**row, "code": "x y"}), 400,
                 "invalid_field")  # fmt: skip


def test_the_cli_sets_up_the_same_way(runner, session):
    created = runner.invoke(main, ["operators", "create", "--set", "slug=cli-water",
                                   "--set", "full_name=МУП Вода", "--set", "short_name=Вода",
                                   "--set", "utilities=water,sewerage",
                                   "--set", f"inn={demo_inn(77)}"])  # fmt: skip
    assert created.exit_code == 0, created.output
    bad = runner.invoke(main, ["operators", "create", "--set", "slug=cli-bad",
                               "--set", "full_name=X", "--set", "short_name=X",
                               "--set", "inn=7707083894"])  # fmt: skip
    assert bad.exit_code != 0 and "inn: its check digit is wrong" in bad.output
    designated = runner.invoke(main, ["designations", "set", "kirishi", "water", "cli-water"])
    assert designated.exit_code == 0 and "→ cli-water" in designated.output, designated.output
    history = runner.invoke(main, ["changes", "--entity", "designation"])
    assert "kirishi/water" in history.output


def test_the_operators_page_lists_and_adds_in_russian(client, session):
    page = client.get("/admin/operators")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Операторы</h1>" in html
    assert 'data-slug="demo-gazraspredelenie"' in html
    assert "Operators" in client.get("/admin/operators?lang=en").get_data(as_text=True)
    form = {"slug": "page-heat", "full_name": "АО Тепло", "short_name": "Тепло-страница",
            "inn": demo_inn(99), "utilities": ["heat", "hot_water"]}  # fmt: skip
    added = client.post("/admin/operators", data=form)  # bearer token: no CSRF needed
    assert added.status_code == 200 and "Оператор добавлен: Тепло-страница" in added.get_data(
        as_text=True
    )
    assert 'data-slug="page-heat"' in added.get_data(as_text=True)
    bad = client.post("/admin/operators", data={**form, "slug": "page-x", "inn": "7707083894"})
    assert bad.status_code == 400 and "inn: its check digit is wrong" in bad.get_data(as_text=True)
    assert count(session, "operators WHERE slug = 'page-x'") == 0


def test_every_role_reads_the_page_only_admins_add(client_as):
    page = client_as("dispatcher").get("/admin/operators")
    assert page.status_code == 200 and "<form" not in page.get_data(as_text=True)
    refused = client_as("dispatcher").post("/admin/operators", data={"slug": "x"})
    assert refused.status_code == 403
