"""What the workbench asks the API: where a report lands (the nearest point ON an asset, not a
vertex), the shift's queue (several municipalities, sorted by urgency, searched by number or
address) and the live card's conditional GET."""

from __future__ import annotations

from sqlalchemy import text
from test_errors import assert_error

from incidents.incident_helpers import at, line, operator_id


def _main(session, make_feature) -> int:
    # A 200 m main running east, with vertices only at its ends.
    return make_feature(operator_id(session, "demo-vodokanal-gatchina"), line((0, 0), (200, 0)))


def _metres(session, a, b) -> float:
    return session.execute(
        text(
            "SELECT ST_Distance(ST_SetSRID(ST_MakePoint(:ax, :ay), 4326)::geography,"
            " ST_SetSRID(ST_MakePoint(:bx, :by), 4326)::geography)"
        ),
        {"ax": a[0], "ay": a[1], "bx": b[0], "by": b[1]},
    ).scalar()


def test_report_point_on_a_feature_is_the_nearest_point_of_the_line(client, session, make_feature):
    fid = _main(session, make_feature)
    lon, lat = at(70, 3)  # 3 m beside the main, 70 m from its west end
    r = client.get(f"/api/report-point?lon={lon}&lat={lat}&feature_id={fid}")
    assert r.status_code == 200, r.json
    body = r.json
    assert body["snapped"] is True and body["utility"] == "water"
    assert body["feature"]["id"] == fid and abs(body["feature"]["distance_m"] - 3) < 0.1
    # On the pipe, right under the click: not the vertex 70 m away.
    assert _metres(session, (body["lon"], body["lat"]), at(70, 0)) < 0.05


def test_report_point_beside_assets_keeps_the_click_and_names_the_utility(
    client, session, make_feature
):
    fid = _main(session, make_feature)
    lon, lat = at(50, 6)
    near = client.get(f"/api/report-point?lon={lon}&lat={lat}&tolerance_m=10").json
    assert near["snapped"] is False and (near["lon"], near["lat"]) == (round(lon, 7), round(lat, 7))
    assert near["utility"] == "water" and near["feature"]["id"] == fid
    far = client.get(f"/api/report-point?lon={lon}&lat={lat}&tolerance_m=4").json
    assert far["utility"] is None and far["feature"] is None


def test_report_point_errors(client):
    assert_error(client.get("/api/report-point?lon=31&lat=95"), 400, "invalid_field")
    assert_error(
        client.get("/api/report-point?lon=31&lat=59&feature_id=999999999"), 404, "feature_not_found"
    )
    assert_error(
        client.get("/api/report-point?lon=31&lat=59&tolerance_m=5000"), 400, "invalid_parameter"
    )


def test_queue_of_several_municipalities_sorted_by_urgency_and_searched(client, session):
    munis = session.execute(
        text("SELECT id, slug FROM municipalities WHERE slug IN ('gatchina', 'sosnovy-bor')")
    ).all()
    ids = ",".join(str(m.id) for m in munis)
    r = client.get(f"/api/incidents?municipality={ids}&sort=urgency&limit=500"
                   "&status=new,assigned,accepted,in_progress,resolved,rejected")  # fmt: skip
    assert r.status_code == 200, r.json
    items = r.json["incidents"]
    assert items and {i["municipality"]["slug"] for i in items} <= {"gatchina", "sosnovy-bor"}
    assert len({i["id"] for i in items}) == len(items)
    # Overdue first; then the nearest deadline.
    flags = [i["overdue"] for i in items]
    assert flags == sorted(flags, reverse=True)
    # By number, and by words of the address.
    first = items[0]
    assert [i["id"] for i in client.get(f"/api/incidents?q=№{first['id']}").json["incidents"]] == [
        first["id"]
    ]
    session.execute(
        text("UPDATE incidents SET address = 'ул. Проверочная, 7' WHERE id = :i"),
        {"i": first["id"]},
    )
    found = client.get("/api/incidents?q=проверочная").json["incidents"]
    assert [i["id"] for i in found] == [first["id"]]
    assert_error(client.get("/api/incidents?municipality=gatchina,atlantis"), 400,
                 "unknown_municipality")  # fmt: skip
    assert_error(client.get("/api/incidents?sort=random"), 400, "invalid_sort")


def test_incident_conditional_get_is_304_until_it_changes(client, session):
    iid = session.execute(text("SELECT min(id) FROM incidents")).scalar()
    first = client.get(f"/api/incidents/{iid}")
    etag = first.headers["ETag"]
    again = client.get(f"/api/incidents/{iid}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    session.execute(text("UPDATE incidents SET version = version + 1 WHERE id = :i"), {"i": iid})
    changed = client.get(f"/api/incidents/{iid}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
