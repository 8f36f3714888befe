"""Single-feature edits: optimistic locking (ETag on GET, If-Match on PUT/PATCH/DELETE, 412 on a
stale one, checked on the locked row) and the record of every edit (feature_edits, with what a
delete removed), read through GET /api/feature-edits."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import assert_error as assert_api_error
from shapely import wkt
from shapely.geometry import shape
from sqlalchemy import create_engine, text
from test_ogc_edit import GEOJSON, ITEMS, _feature, assert_error

from gis_app import config

MERGE = "application/merge-patch+json"
VODOKANAL = "demo-vodokanal-gatchina"  # the "operator" account's organisation
OTHER = "demo-vodokanal-sosnovy-bor"
STRONG = re.compile(r'^"[0-9a-f]{32}"$')


def _own_features(session, slug=VODOKANAL, n=2) -> list[int]:
    return list(session.execute(text(
        "SELECT f.id FROM network_features f JOIN operators o ON o.id = f.operator_id"
        " WHERE f.layer_id = 'water_mains' AND o.slug = :s ORDER BY f.id LIMIT :n"),
        {"s": slug, "n": n}).scalars())  # fmt: skip


def _row(session, fid):
    """Everything stored about a feature (None once deleted)."""
    return session.execute(
        text("SELECT f::text FROM network_features f WHERE id = :i"), {"i": fid}
    ).scalar()


def _records(session, fid) -> list:
    return session.execute(text(
        "SELECT e.action, e.username, e.user_id, u.username AS user_name, o.slug AS operator,"
        " e.layer_id, e.external_id, e.removed_feature FROM feature_edits e"
        " LEFT JOIN users u ON u.id = e.user_id JOIN operators o ON o.id = e.operator_id"
        " WHERE e.feature_id = :i ORDER BY e.id"), {"i": fid}).all()  # fmt: skip


def _etag(test_client, fid, **headers) -> str:
    response = test_client.get(f"{ITEMS}/{fid}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.headers["ETag"]


def _patch(test_client, fid, diameter, **headers):
    return test_client.patch(f"{ITEMS}/{fid}", json={"properties": {"diameter_mm": diameter}},
                             content_type=MERGE, headers=headers)  # fmt: skip


def test_etag_is_strong_and_follows_only_its_feature(client_as, session):
    operator = client_as("operator")
    one, two = _own_features(session)
    first = operator.get(f"{ITEMS}/{one}")
    etag = first.headers["ETag"]
    assert STRONG.match(etag), etag
    assert first.mimetype == GEOJSON and "Content-Encoding" not in first.headers
    assert _etag(operator, one) == etag != _etag(operator, two)
    assert operator.get(f"{ITEMS}/{one}", headers={"If-None-Match": etag}).status_code == 304
    # The HTML page is another representation: another ETag.
    assert _etag(operator, one, Accept="text/html") not in (etag, f"W/{etag}")
    # Editing another feature leaves this one's ETag alone.
    assert _patch(operator, two, 160).status_code == 204
    assert _etag(operator, one) == etag
    # Editing this one changes it; the 204 carries the new ETag, which GET then answers.
    edited = _patch(operator, one, 160, **{"If-Match": etag})
    assert edited.status_code == 204, edited.get_data(as_text=True)
    assert STRONG.match(edited.headers["ETag"]) and edited.headers["ETag"] != etag
    assert _etag(operator, one) == edited.headers["ETag"]
    # Chained edits with the answered ETag; a PUT of the same content is a new state too.
    served = operator.get(f"{ITEMS}/{one}").get_json()
    put = operator.put(f"{ITEMS}/{one}", json=served, content_type=GEOJSON,
                       headers={"If-Match": edited.headers["ETag"]})  # fmt: skip
    assert put.status_code == 204 and put.headers["ETag"] != edited.headers["ETag"]
    assert _etag(operator, one) == put.headers["ETag"]
    # A create answers the new feature's ETag too.
    created = operator.post(ITEMS, json=_feature("E-ETAG"), content_type=GEOJSON)
    assert created.status_code == 201
    assert created.headers["ETag"] == _etag(operator, created.headers["Location"].rsplit("/", 1)[1])


def test_etag_follows_the_operator_name_the_feature_shows(client_as, session):
    """The answer shows the owner's name: renaming the operator is a new state of the answer."""
    operator = client_as("operator")
    one = _own_features(session, n=1)[0]
    before = _etag(operator, one)
    session.execute(text("UPDATE operators SET short_name = short_name || ' (переименован)'"
                         " WHERE slug = :s"), {"s": VODOKANAL})  # fmt: skip
    after = operator.get(f"{ITEMS}/{one}")
    assert after.headers["ETag"] != before
    assert after.get_json()["properties"]["operator"].endswith("(переименован)")
    assert operator.get(f"{ITEMS}/{one}", headers={"If-None-Match": before}).status_code == 200


def test_stale_if_match_is_412_and_changes_nothing(client_as, session):
    operator, admin = client_as("operator"), client_as("admin")
    fid = _own_features(session, n=1)[0]
    seen = _etag(operator, fid)
    assert _patch(admin, fid, 200).status_code == 204  # someone else edits first (no If-Match)
    current = _etag(operator, fid)
    before, records = _row(session, fid), len(_records(session, fid))
    body = assert_error(
        _patch(operator, fid, 160, **{"If-Match": seen}), 412, "precondition_failed"
    )
    assert body["details"]["etag"] == current and body["details"]["feature"] == fid
    served = operator.get(f"{ITEMS}/{fid}").get_json()
    put = operator.put(f"{ITEMS}/{fid}", json=served, content_type=GEOJSON,
                       headers={"If-Match": seen})  # fmt: skip
    assert_error(put, 412, "precondition_failed")
    assert_error(operator.delete(f"{ITEMS}/{fid}", headers={"If-Match": seen}), 412,
                 "precondition_failed")  # fmt: skip
    assert_error(_patch(operator, fid, 160, **{"If-Match": ""}), 412, "precondition_failed")
    assert _row(session, fid) == before and len(_records(session, fid)) == records
    assert _etag(operator, fid) == current
    # The current tag matches in a list, in its W/ form (a compressing proxy weakens it) and as *.
    assert _patch(operator, fid, 160, **{"If-Match": f"{seen}, W/{current}"}).status_code == 204
    assert _patch(operator, fid, 180, **{"If-Match": "*"}).status_code == 204
    assert (
        operator.delete(f"{ITEMS}/{fid}", headers={"If-Match": _etag(operator, fid)}).status_code
        == 204
    )
    assert_error(
        operator.delete(f"{ITEMS}/{fid}", headers={"If-Match": "*"}), 404, "feature_not_found"
    )


def _http(method: str, url: str, token: str, body: dict | None = None, **headers):
    """(status, headers, JSON body or None) of a real HTTP request (errors included)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", **headers})  # fmt: skip
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        response = error
    with response:
        raw = response.read()
        return response.status, response.headers, json.loads(raw) if raw else None


def _wait_for_lock_waiters(engine, count: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'")).scalar()  # fmt: skip
            conn.rollback()  # pg_stat_activity is a snapshot taken once per transaction
            if waiting >= count:
                return
            time.sleep(0.05)
    raise AssertionError(f"fewer than {count} requests came to wait for the row lock")


def test_two_editors_with_one_etag_exactly_one_wins(live_server, tokens, postgis_url):
    """Both PATCHes are held at the row lock (a third connection holds it), then let go at once:
    the one that locks second must see the first one's write and answer 412."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    editors = {"operator": 160, "admin": 200}
    status, headers, _ = _http("POST", live_server + ITEMS, tokens["operator"],
                               _feature("E-RACE"), **{"Content-Type": GEOJSON})  # fmt: skip
    assert status == 201
    url = headers["Location"]
    fid = int(url.rsplit("/", 1)[1])
    try:
        status, headers, _ = _http("GET", url, tokens["operator"])
        etag = headers["ETag"]
        with engine.connect() as holder, ThreadPoolExecutor(len(editors)) as pool:
            held = holder.begin()
            holder.execute(text("SELECT 1 FROM network_features WHERE id = :i FOR UPDATE"),
                           {"i": fid})  # fmt: skip
            futures = {
                role: pool.submit(_http, "PATCH", url, tokens[role],
                                  {"properties": {"diameter_mm": diameter}},
                                  **{"Content-Type": MERGE, "If-Match": etag})
                for role, diameter in editors.items()
            }  # fmt: skip
            _wait_for_lock_waiters(engine, len(editors))
            held.rollback()
            answers = {role: future.result() for role, future in futures.items()}
        statuses = sorted(status for status, _, _ in answers.values())
        assert statuses == [204, 412], answers
        winner = next(role for role, answer in answers.items() if answer[0] == 204)
        loser = next(role for role, answer in answers.items() if answer[0] == 412)
        assert answers[loser][2]["code"] == "precondition_failed"
        assert answers[loser][2]["details"]["etag"] == answers[winner][1]["ETag"]
        status, headers, served = _http("GET", url, tokens["operator"])
        assert served["properties"]["diameter_mm"] == editors[winner]
        assert headers["ETag"] == answers[winner][1]["ETag"]
        with engine.connect() as conn:
            actions = conn.execute(text(
                "SELECT action, username FROM feature_edits WHERE feature_id = :i ORDER BY id"),
                {"i": fid}).all()  # fmt: skip
        winner_name = "admin" if winner == "admin" else "operator-vodokanal-gatchina"
        assert [tuple(a) for a in actions] == [("create", "operator-vodokanal-gatchina"),
                                              ("update", winner_name)]  # fmt: skip
    finally:
        _http("DELETE", url, tokens["operator"])
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM feature_edits WHERE feature_id = :i"), {"i": fid})
        engine.dispose()


def test_every_edit_is_recorded_and_a_delete_keeps_the_feature(client_as, session):
    operator, admin = client_as("operator"), client_as("admin")
    created = operator.post(ITEMS, json=_feature("E-REC"), content_type=GEOJSON)
    fid = int(created.headers["Location"].rsplit("/", 1)[1])
    served = operator.get(f"{ITEMS}/{fid}").get_json()
    served["properties"]["material"] = "pvc"
    assert admin.put(f"{ITEMS}/{fid}", json=served, content_type=GEOJSON).status_code == 204
    assert _patch(operator, fid, 315).status_code == 204
    before = session.execute(text(
        "SELECT ST_AsText(geom) AS wkt, attributes, name, updated_at FROM network_features"
        " WHERE id = :i"), {"i": fid}).one()  # fmt: skip
    assert operator.delete(f"{ITEMS}/{fid}").status_code == 204
    records = _records(session, fid)
    assert [(r.action, r.username, r.user_name, r.operator, r.layer_id, r.external_id)
            for r in records] == [
        ("create", "operator-vodokanal-gatchina", "operator-vodokanal-gatchina", VODOKANAL,
         "water_mains", "E-REC"),
        ("replace", "admin", "admin", VODOKANAL, "water_mains", "E-REC"),
        ("update", "operator-vodokanal-gatchina", "operator-vodokanal-gatchina", VODOKANAL,
         "water_mains", "E-REC"),
        ("delete", "operator-vodokanal-gatchina", "operator-vodokanal-gatchina", VODOKANAL,
         "water_mains", "E-REC"),
    ]  # fmt: skip
    assert [r.removed_feature for r in records[:3]] == [None, None, None]
    removed = records[3].removed_feature
    assert removed["type"] == "Feature" and removed["id"] == fid
    assert shape(removed["geometry"]).equals(wkt.loads(before.wkt))
    assert removed["properties"] == {
        **before.attributes, "external_id": "E-REC", "name": before.name,
        "operator_id": removed["properties"]["operator_id"],
        "updated_at": removed["properties"]["updated_at"],
        "updated_by": "operator-vodokanal-gatchina",
    }  # fmt: skip
    assert before.attributes == {"diameter_mm": 315, "material": "pvc"}
    # The record outlives the feature, and POSTed back it restores it (under a new id).
    assert _row(session, fid) is None
    restored = operator.post(ITEMS, json=removed, content_type=GEOJSON)
    assert restored.status_code == 201, restored.get_data(as_text=True)
    new_id = int(restored.headers["Location"].rsplit("/", 1)[1])
    again = session.execute(text(
        "SELECT ST_AsText(geom) AS wkt, attributes, name FROM network_features WHERE id = :i"),
        {"i": new_id}).one()  # fmt: skip
    assert wkt.loads(again.wkt).equals(wkt.loads(before.wkt))
    assert (again.attributes, again.name) == (before.attributes, before.name)


def test_a_failed_edit_leaves_no_record(client_as, session):
    operator = client_as("operator")
    fid, other = _own_features(session)
    count = session.execute(text("SELECT count(*) FROM feature_edits")).scalar()
    assert_error(_patch(operator, fid, 3), 422, "invalid_feature")
    assert_error(operator.put(f"{ITEMS}/{fid}", json=_feature(diameter_mm=3), content_type=GEOJSON),
                 422, "invalid_feature")  # fmt: skip
    assert_error(operator.post(ITEMS, json=_feature(diameter_mm=3), content_type=GEOJSON), 422,
                 "invalid_feature")  # fmt: skip
    taken = session.execute(text("SELECT external_id FROM network_features WHERE id = :i"),
                            {"i": other}).scalar()  # fmt: skip
    if taken is not None:
        clash = operator.patch(f"{ITEMS}/{fid}", json={"properties": {"external_id": taken}},
                               content_type=MERGE)  # fmt: skip
        assert_error(clash, 409, "external_id_taken")
    assert_error(_patch(operator, fid, 160, **{"If-Match": '"stale"'}), 412, "precondition_failed")
    foreign = _own_features(session, OTHER, 1)[0]
    assert_error(operator.delete(f"{ITEMS}/{foreign}"), 403, "not_your_operator")
    assert session.execute(text("SELECT count(*) FROM feature_edits")).scalar() == count


def test_a_deleted_user_leaves_the_record(client_as, session):
    operator = client_as("operator")
    fid = _own_features(session, n=1)[0]
    assert _patch(operator, fid, 160).status_code == 204
    record = _records(session, fid)[-1]
    assert record.user_id is not None
    session.execute(text("DELETE FROM users WHERE id = :u"), {"u": record.user_id})
    kept = _records(session, fid)[-1]
    assert (kept.action, kept.user_id, kept.username) == ("update", None, record.username)


def _listed(test_client, query: str = "") -> list[dict]:
    response = test_client.get(f"/api/feature-edits{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["feature_edits"]


def test_feature_edits_api(client_as, session):
    operator, admin = client_as("operator"), client_as("admin")
    own = _own_features(session, n=1)[0]
    foreign = _own_features(session, OTHER, 1)[0]
    assert _patch(operator, own, 160).status_code == 204
    assert _patch(admin, foreign, 200).status_code == 204
    assert admin.delete(f"{ITEMS}/{foreign}").status_code == 204
    everything = _listed(admin)
    assert [(e["feature_id"], e["action"], e["operator"]) for e in everything[:3]] == [
        (foreign, "delete", OTHER), (foreign, "update", OTHER), (own, "update", VODOKANAL)]  # fmt: skip
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    latest = everything[0]
    assert set(latest) == {"id", "at", "username", "operator_id", "operator", "layer_id",
                           "feature_id", "external_id", "action", "removed_feature"}  # fmt: skip
    assert latest["username"] == "admin" and latest["removed_feature"]["id"] == foreign
    assert latest["removed_feature"]["geometry"]["type"] in ("LineString", "MultiLineString")
    # Staff see their own organisation's only, whatever they ask for.
    for query in ("", f"?operator={OTHER}"):
        mine = _listed(operator, query)
        assert {e["operator"] for e in mine} == {VODOKANAL}
        assert foreign not in {e["feature_id"] for e in mine}
    assert _listed(client_as("operator-gas")) == []
    # The other roles read all, as on /api/imports, and may pick an operator.
    for role in ("planner", "dispatcher"):
        assert [e["id"] for e in _listed(client_as(role))] == [e["id"] for e in everything]
    assert {e["operator"] for e in _listed(admin, f"?operator={OTHER}")} == {OTHER}
    assert _listed(admin, "?layer=water_mains&limit=2") == everything[:2]
    assert _listed(admin, "?layer=sewers") == []
    assert_api_error(admin.get("/api/feature-edits?layer=nope"), 404, "layer_not_found")
    assert_api_error(admin.get("/api/feature-edits?limit=0"), 400, "invalid_parameter")
    assert client_as("planner").get("/api/feature-edits").status_code == 200


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_openapi_declares_if_match_and_412(client, method):
    doc = client.get("/ogc/api?f=json").get_json()
    operation = doc["paths"]["/collections/water_mains/items/{featureId}"][method]
    assert "If-Match" in {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "412" in operation["responses"]
    created = doc["paths"]["/collections/water_mains/items"]["post"]
    assert "412" not in created["responses"] and "ETag" in created["responses"]["201"]["headers"]
