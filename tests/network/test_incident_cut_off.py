"""An incident's cut-off figures from the trace: filled, marked computed, corrected by the
dispatcher; the cascade proposes caused-by links, which do not loop."""

from __future__ import annotations

from helpers import assert_error
from sqlalchemy import text


def _post_incident(client, utility: str, feature_id: int, session) -> dict:
    lon, lat = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(geom, 0.5) p"
            " FROM network_features WHERE id = :i) x"
        ),
        {"i": feature_id},
    ).one()
    response = client.post(
        "/api/incidents",
        json={
            "lon": lon,
            "lat": lat,
            "utility": utility,
            "description": "тест трассировки",
            "feature_id": feature_id,
            "allow_duplicate": True,
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _water_main(session) -> int:
    return session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
            " WHERE f.layer_id = 'water_mains' AND f.is_demo ORDER BY f.id LIMIT 1 OFFSET 100"
        )
    ).scalar_one()


def test_the_trace_fills_the_figures_and_a_correction_shows(client_as, session):
    dispatcher = client_as("dispatcher")
    incident = _post_incident(dispatcher, "water", _water_main(session), session)
    url = f"/api/incidents/{incident['id']}"
    assert_error(dispatcher.post(url + "/cut-off"), 428, "precondition_required")
    etag = dispatcher.get(url).headers["ETag"]
    assert_error(
        client_as("planner").post(url + "/cut-off", headers={"If-Match": etag}), 403, "forbidden"
    )
    filled = dispatcher.post(url + "/cut-off", headers={"If-Match": etag})
    assert filled.status_code == 200, filled.get_json()
    body = filled.get_json()
    computed = body["cut_off_computed"]
    assert body["consumers_cut_off"] == computed["figures"]["consumers_cut_off"] > 0
    assert computed["trace_type"] == "isolation" and computed["by"] == "dispatcher-oblast"
    assert set(body["cut_off_figures"].values()) == {"computed"}
    trace = dispatcher.get(url + "/trace?type=isolation").get_json()["trace"]
    assert trace["consumers_cut_off"] == body["consumers_cut_off"]
    patched = dispatcher.patch(
        url, json={"consumers_cut_off": 5}, headers={"If-Match": filled.headers["ETag"]}
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["cut_off_figures"]["consumers_cut_off"] == "dispatcher"
    assert patched.get_json()["cut_off_figures"]["settlements_cut_off"] == "computed"
    events = dispatcher.get(url + "/events").get_json()
    events = events.get("events", events)
    assert "cut_off_computed" in [e["action"] for e in events]


def test_the_cascade_proposes_the_heat_incident_as_caused_by_the_gas_one(client_as, session):
    dispatcher = client_as("dispatcher")
    gas_line, boiler = session.execute(
        text(
            "SELECT d.supplier_id, d.dependent_id FROM network_dependencies d"
            " JOIN network_features s ON s.id = d.supplier_id AND s.utility_code = 'gas'"
            " ORDER BY d.supplier_id LIMIT 1"
        )
    ).one()
    heat_pipe = session.execute(
        text(
            "SELECT l.feature_id FROM network_links b JOIN network_links l"
            " ON l.role = 'line' AND b.node_a IN (l.node_a, l.node_b) WHERE b.feature_id = :b"
            " LIMIT 1"
        ),
        {"b": boiler},
    ).scalar_one()
    gas = _post_incident(dispatcher, "gas", gas_line, session)
    heat = _post_incident(dispatcher, "heat", heat_pipe, session)
    url = f"/api/incidents/{gas['id']}"
    etag = dispatcher.get(url).headers["ETag"]
    body = dispatcher.post(url + "/cut-off", json={"type": "downstream"},
                           headers={"If-Match": etag}).get_json()  # fmt: skip
    computed = body["cut_off_computed"]
    assert "heat" in body["utilities_cut_off"]
    assert computed["cascade"][0]["dependent"]["id"] == boiler
    assert heat["id"] in [p["incident_id"] for p in computed["proposed_caused_by"]]
    linked = dispatcher.post(
        f"/api/incidents/{heat['id']}/caused-by", json={"caused_by": gas["id"]}
    )
    assert linked.status_code == 200 and linked.get_json()["caused_by"] == gas["id"]
    loop = dispatcher.post(f"{url}/caused-by", json={"caused_by": heat["id"]})
    assert_error(loop, 400, "invalid_parameter")
    assert_error(dispatcher.post(f"{url}/caused-by", json={"caused_by": 10**12}), 404,
                 "incident_not_found")  # fmt: skip


def _filled(dispatcher, session) -> tuple[str, dict, str]:
    """A water incident with its cut-off figures computed: (url, answer, ETag)."""
    incident = _post_incident(dispatcher, "water", _water_main(session), session)
    url = f"/api/incidents/{incident['id']}"
    etag = dispatcher.get(url).headers["ETag"]
    filled = dispatcher.post(url + "/cut-off", json={"type": "downstream"},
                             headers={"If-Match": etag})  # fmt: skip
    assert filled.status_code == 200, filled.get_json()
    return url, filled.get_json(), filled.headers["ETag"]


def test_the_dispatcher_corrects_the_settlements_cut_off(client_as, session):
    dispatcher = client_as("dispatcher")
    url, body, etag = _filled(dispatcher, session)
    computed = body["cut_off_computed"]["figures"]["settlements_cut_off"]
    assert body["cut_off_figures"]["settlements_cut_off"] == "computed"
    # By slug and by id, as the trace stores them ({id, slug, name_ru, name_en}), once each.
    patched = dispatcher.patch(
        url, json={"settlements_cut_off": ["kirishi", {"id": 8}, "kirishi"]},
        headers={"If-Match": etag},
    )  # fmt: skip
    assert patched.status_code == 200, patched.get_json()
    answer = patched.get_json()
    assert [(s["slug"], s["name_ru"]) for s in answer["settlements_cut_off"]] == [
        ("kirishi", "Кириши"),
        ("vyborg", "Выборг"),
    ]
    assert answer["cut_off_figures"]["settlements_cut_off"] == "dispatcher"
    assert answer["cut_off_figures"]["consumers_cut_off"] == "computed"
    events = dispatcher.get(url + "/events").get_json()
    events = events.get("events", events)
    change = [e for e in events if e["action"] == "updated"][-1]["data"]["settlements_cut_off"]
    assert change["from"] == computed and [s["id"] for s in change["to"]] == [7, 8]
    # Put back what the trace found (in another order): computed again.
    again = dispatcher.patch(
        url, json={"settlements_cut_off": [s["slug"] for s in reversed(computed)]},
        headers={"If-Match": patched.headers["ETag"]},
    )  # fmt: skip
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["cut_off_figures"]["settlements_cut_off"] == "computed"


def test_a_bad_settlement_is_refused_and_nothing_written(client_as, session):
    dispatcher = client_as("dispatcher")
    url, body, etag = _filled(dispatcher, session)
    for value, code in (
        (["atlantis"], "unknown_settlement"),
        (["leningrad-oblast"], "unknown_settlement"),  # the oblast is not a settlement
        (["kirishsky"], "unknown_settlement"),  # nor is a district
        ("kirishi", "invalid_field"),
        ([True], "invalid_field"),
        ([{"name": "Кириши"}], "invalid_field"),
    ):
        response = dispatcher.patch(url, json={"settlements_cut_off": value},
                                    headers={"If-Match": etag})  # fmt: skip
        assert_error(response, 400, code)
    after = dispatcher.get(url)
    assert after.headers["ETag"] == etag
    assert after.get_json()["settlements_cut_off"] == body["settlements_cut_off"]


def test_figures_typed_without_a_trace_are_the_dispatchers(client_as, session):
    dispatcher = client_as("dispatcher")
    incident = _post_incident(dispatcher, "water", _water_main(session), session)
    assert set(incident["cut_off_figures"].values()) == {None}
    url = f"/api/incidents/{incident['id']}"
    patched = dispatcher.patch(
        url, json={"consumers_cut_off": 40, "settlements_cut_off": ["gatchina"]},
        headers={"If-Match": dispatcher.get(url).headers["ETag"]},
    )  # fmt: skip
    figures = patched.get_json()["cut_off_figures"]
    assert figures["consumers_cut_off"] == figures["settlements_cut_off"] == "dispatcher"
    assert figures["social_objects_cut_off"] is None


def test_every_if_match_of_an_incident_is_read_the_same_way(client_as, session):
    dispatcher = client_as("dispatcher")
    incident = _post_incident(dispatcher, "water", _water_main(session), session)
    url = f"/api/incidents/{incident['id']}"
    version = dispatcher.get(url).get_json()["version"]
    for path, method, body in ((url, "patch", {"priority": 2}), (url + "/cut-off", "post", None)):
        send = getattr(dispatcher, method)
        assert_error(send(path, json=body, headers={"If-Match": "v1"}), 412,
                     "precondition_failed")  # fmt: skip
        assert_error(send(path, json=body), 428, "precondition_required")
        weak = send(path, json=body, headers={"If-Match": f'W/"{version}"'})
        assert weak.status_code == 200, weak.get_json()
        version = weak.get_json()["version"]
