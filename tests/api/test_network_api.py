"""The map's helpers: one feature by id, the operators list, the incident points with ETag."""

from __future__ import annotations

from helpers import assert_error
from sqlalchemy import text


def test_one_feature_by_id(client, session):
    fid, ext = session.execute(
        text(
            "SELECT id, external_id FROM network_features WHERE layer_id = 'gas_pipelines' LIMIT 1"
        )
    ).one()
    response = client.get(f"/api/features/{fid}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    feature = response.get_json()
    assert feature["id"] == fid and feature["properties"]["external_id"] == ext
    assert feature["geometry"]["type"] == "LineString"
    assert_error(client.get("/api/features/999999999"), 404, "feature_not_found")


def test_operators_by_utility(client):
    gas = client.get("/api/operators?utility=gas").get_json()["operators"]
    assert [o["short_name"] for o in gas] == ["ДЕМО Газораспределение ЛО"]
    every = client.get("/api/operators").get_json()["operators"]
    assert len(every) == 24 and all(o["utilities"] for o in every)  # with 4 towns' housing UK


def test_incident_points_etag_and_304(client, session):
    first = client.get("/api/incidents/map.geojson")
    assert first.status_code == 200 and first.mimetype == "application/geo+json"
    body = first.get_json()
    open_count = session.execute(
        text(
            "SELECT count(*) FROM incidents WHERE status IN "
            "('new','assigned','accepted','in_progress','resolved','rejected')"
        )
    ).scalar_one()
    assert len(body["features"]) == open_count > 0
    props = body["features"][0]["properties"]
    assert set(props) == {"status", "kind", "utility", "priority", "overdue"}
    etag = first.headers["ETag"]
    assert (
        client.get("/api/incidents/map.geojson", headers={"If-None-Match": etag}).status_code == 304
    )
    # A status change anywhere changes the ETag: the map redraws.
    session.execute(
        text(
            "UPDATE incidents SET status = 'closed', updated_at = now() + interval '1 s'"
            " WHERE id = (SELECT min(id) FROM incidents WHERE status = 'new')"
        )
    )
    session.flush()
    again = client.get("/api/incidents/map.geojson", headers={"If-None-Match": etag})
    assert again.status_code == 200 and len(again.get_json()["features"]) == open_count - 1
    assert_error(client.get("/api/incidents/map.geojson?status=lost"), 400, "invalid_status")
