"""The trace and report endpoints, and the topology kept current by edits and imports."""

from __future__ import annotations

import json

from helpers import assert_error
from sqlalchemy import text

GEOJSON = "application/geo+json"


def _demo(session, sql: str):
    return session.execute(text(sql)).first()


def _water_main_with_valve(session) -> int:
    return session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN network_links l ON l.feature_id = f.id"
            " JOIN network_links v ON v.role = 'device' AND v.node_a IN (l.node_a, l.node_b)"
            " WHERE f.layer_id = 'water_mains' AND f.is_demo AND v.operable"
            " ORDER BY f.id LIMIT 1 OFFSET 40"
        )
    ).scalar_one()


def test_a_feature_trace_answers_geojson_with_roles_and_figures(client, session):
    main = _water_main_with_valve(session)
    response = client.get(f"/api/features/{main}/trace?type=downstream")
    assert response.status_code == 200 and response.mimetype == GEOJSON
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == len(body["features"])
    roles = {f["id"]: f["properties"]["trace"] for f in body["features"]}
    assert roles[main] == "start"
    trace = body["trace"]
    assert trace["type"] == "downstream" and trace["utility"] == "water" and trace["start"] == main
    consumers = [f for f in body["features"] if f["properties"]["trace"] == "consumer_cut_off"]
    assert trace["consumers_cut_off"] == sum(f["properties"]["consumers"] for f in consumers)
    assert trace["municipalities"] and trace["totals"]["utilities_cut_off"][0] == "water"
    iso = client.get(f"/api/features/{main}/trace").get_json()["trace"]
    assert iso["type"] == "isolation"
    for device in iso["devices_to_operate"]:
        assert device["layer"] == "water_valves" and device["operable"]


def test_a_point_trace_takes_the_nearest_feature_of_the_utility(client, session):
    main, lon, lat = _demo(
        session,
        "SELECT id, ST_X(ST_LineInterpolatePoint(geom, 0.5)), ST_Y(ST_LineInterpolatePoint(geom,"
        " 0.5)) FROM network_features WHERE layer_id = 'heat_pipes' ORDER BY id LIMIT 1",
    )
    body = client.get(
        "/api/features/trace", query_string={"lon": lon, "lat": lat, "utility": "heat"}
    ).get_json()
    assert body["trace"]["start"] == main and body["trace"]["utility"] == "heat"
    far = client.get("/api/features/trace?lon=28.0&lat=61.5&utility=heat&type=downstream")
    assert_error(far, 404, "feature_not_found")


def test_bad_trace_requests_say_what_was_wrong(client, session):
    main = _water_main_with_valve(session)
    assert_error(client.get(f"/api/features/{main}/trace?type=sideways"), 400, "invalid_trace_type")
    assert_error(client.get("/api/features/999999999/trace"), 404, "feature_not_found")
    road = _demo(session, "SELECT id FROM network_features WHERE layer_id = 'road_segments'")[0]
    assert_error(client.get(f"/api/features/{road}/trace"), 422, "feature_not_in_network")
    assert_error(client.get("/api/features/trace?lat=59.5&utility=water"), 400, "invalid_parameter")
    assert_error(
        client.get("/api/features/trace?lon=30&lat=59.5&utility=roads"), 400, "invalid_parameter"
    )
    assert_error(client.get("/api/network/roads/report"), 400, "invalid_parameter")


def test_the_report_lists_dangling_ends(client):
    body = client.get("/api/network/gas/report").get_json()
    assert body["utility"] == "gas" and body["dangling_ends"]["count"] > 0
    assert body["near_misses"]["count"] == 0 and body["points_off_network"]["count"] == 0


def _end_of(session, feature_id: int) -> list[float]:
    return list(
        session.execute(
            text("SELECT ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom)) FROM network_features"
                 " WHERE id = :i"), {"i": feature_id}
        ).one()
    )  # fmt: skip


def _node_at_end(session, feature_id: int) -> int:
    return session.execute(
        text("SELECT node_b FROM network_links WHERE feature_id = :i"), {"i": feature_id}
    ).scalar_one()


def test_an_edit_joins_the_new_main_to_the_network_in_the_same_transaction(client_as, session):
    main = session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN operators o ON o.id = f.operator_id"
            " WHERE o.slug = 'demo-vodokanal-gatchina' AND f.layer_id = 'water_mains'"
            " ORDER BY f.id LIMIT 1 OFFSET 30"
        )
    ).scalar_one()
    end = _end_of(session, main)
    body = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [end, [end[0] + 0.001, end[1]]]},
        "properties": {"external_id": "NEW-1", "diameter_mm": 100},
    }
    created = client_as("operator").post(
        "/ogc/collections/water_mains/items", json=body, content_type=GEOJSON
    )
    assert created.status_code == 201, created.get_json()
    fid = int(created.headers["Location"].rsplit("/", 1)[1])
    start_node = session.execute(
        text("SELECT node_a FROM network_links WHERE feature_id = :i"), {"i": fid}
    ).scalar_one()
    assert start_node == _node_at_end(session, main)
    trace = client_as("operator").get(f"/api/features/{main}/trace?type=downstream").get_json()
    assert fid in {f["id"] for f in trace["features"]}


def test_an_import_keeps_the_topology(client_as, session):
    main = session.execute(
        text(
            "SELECT f.id FROM network_features f JOIN operators o ON o.id = f.operator_id"
            " WHERE o.slug = 'demo-vodokanal-gatchina' AND f.layer_id = 'water_mains'"
            " ORDER BY f.id LIMIT 1 OFFSET 31"
        )
    ).scalar_one()
    end = _end_of(session, main)
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [[end[0] + k * 0.001, end[1]], [end[0] + (k + 1) * 0.001, end[1]]],
            },
            "properties": {"external_id": f"IMP-{k}", "diameter_mm": 100},
        }
        for k in range(3)
    ]
    response = client_as("operator").post(
        "/api/layers/water_mains/import",
        query_string={"mode": "append"},
        data=json.dumps({"type": "FeatureCollection", "features": features}),
        content_type=GEOJSON,
    )
    assert response.status_code == 200, response.get_json()
    links = session.execute(
        text(
            "SELECT f.external_id, l.node_a, l.node_b FROM network_features f"
            " JOIN network_links l ON l.feature_id = f.id WHERE f.external_id LIKE 'IMP-%'"
            " ORDER BY 1"
        )
    ).all()
    assert [r[0] for r in links] == ["IMP-0", "IMP-1", "IMP-2"]
    assert links[0][1] == _node_at_end(session, main)
    assert links[0][2] == links[1][1] and links[1][2] == links[2][1]


def test_dependencies_are_data_an_admin_keeps(client_as, session):
    boiler, gas_line = session.execute(
        text(
            "SELECT d.dependent_id, d.supplier_id FROM network_dependencies d JOIN"
            " network_features s ON s.id = d.supplier_id AND s.utility_code = 'gas' LIMIT 1"
        )
    ).one()
    admin = client_as("admin")
    listed = admin.get(f"/api/features/{boiler}/dependencies").get_json()
    assert gas_line in [n["id"] for n in listed["needs"]]
    assert boiler in [n["id"] for n in admin.get(f"/api/features/{gas_line}/dependencies")
                      .get_json()["needed_by"]]  # fmt: skip
    url = f"/api/network/dependencies/{boiler}/{gas_line}"
    assert_error(client_as("dispatcher").delete(url), 403, "forbidden")
    assert admin.delete(url).status_code == 204
    assert_error(admin.delete(url), 404, "dependency_not_found")
    body = {"dependent_id": boiler, "supplier_id": gas_line, "note": "газ котельной"}
    added = admin.post("/api/network/dependencies", json=body)
    assert added.status_code == 201
    assert (gas_line, "газ котельной") in {(n["id"], n["note"]) for n in added.get_json()["needs"]}
    heat_pipe = session.execute(
        text("SELECT feature_id FROM network_links WHERE utility_code = 'heat' AND role = 'line'"
             " LIMIT 1")
    ).scalar_one()  # fmt: skip
    same = admin.post("/api/network/dependencies",
                      json={"dependent_id": boiler, "supplier_id": heat_pipe})  # fmt: skip
    assert_error(same, 400, "invalid_parameter")
    missing = admin.post("/api/network/dependencies",
                         json={"dependent_id": boiler, "supplier_id": 10**12})  # fmt: skip
    assert_error(missing, 404, "feature_not_found")
