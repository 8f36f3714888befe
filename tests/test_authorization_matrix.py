"""Authorization as a matrix: every role against every write endpoint and the non-public reads,
including another operator's layer and features; only the right cells pass (2xx), the others get
401 (no login) or 403/404 (not theirs), and nothing is written then."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

ROLES = ("anonymous", "admin", "dispatcher", "dispatcher-gatchina", "operator", "operator-gas",
         "planner")  # fmt: skip
VODOKANAL = "demo-vodokanal-gatchina"  # the "operator" account's organisation
OTHER = "demo-vodokanal-sosnovy-bor"  # another operator of the same utility
GEOJSON = "application/geo+json"
LINE = {"type": "LineString", "coordinates": [[30.1, 59.57], [30.101, 59.571]]}
GAS_LINE = {"type": "Feature", "geometry": LINE,
            "properties": {"external_id": "M-GAS", "pressure_class": "low"}}  # fmt: skip
AREA = {"type": "Polygon", "coordinates": [[[30.1, 59.56], [30.12, 59.56], [30.12, 59.58],
                                            [30.1, 59.56]]]}  # fmt: skip


def _water(ext="M-1"):
    return {"type": "Feature", "geometry": LINE,
            "properties": {"external_id": ext, "diameter_mm": 110}}  # fmt: skip


def _fc(*features):
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def _import(layer, body, operator=None):
    def call(c, ids, role):
        args = {"mode": "upsert"}
        if role == "admin" or operator:
            args["operator"] = operator or ids["owner_of"][layer]
        return c.post(f"/api/layers/{layer}/import", query_string=args, data=body,
                      content_type=GEOJSON)  # fmt: skip

    return call


def _ogc(method, which="own", body=None):
    def call(c, ids, role):
        fid = ids[which]
        url = f"/ogc/collections/water_mains/items/{fid}"
        if body is not None:
            content = "application/merge-patch+json" if method == "patch" else GEOJSON
            return getattr(c, method)(url, data=json.dumps(body), content_type=content)
        return getattr(c, method)(url)

    return call


def _ogc_create(c, ids, role):
    args = {"operator": VODOKANAL} if role == "admin" else {}
    return c.post("/ogc/collections/water_mains/items", query_string=args,
                  data=json.dumps(_water("M-NEW")), content_type=GEOJSON)  # fmt: skip


def _incident(c, ids, role):
    body = {"lon": 30.11, "lat": 59.57, "utility": "water", "description": "Прорыв водовода"}
    return c.post("/api/incidents", json=body)


def _incident_patch(c, ids, role):
    return c.patch(f"/api/incidents/{ids['incident']}", json={"consumers_cut_off": 120},
                   headers={"If-Match": f'"{ids["incident_version"]}"'})  # fmt: skip


def _incident_cut_off(c, ids, role):
    return c.post(f"/api/incidents/{ids['incident']}/cut-off",
                  headers={"If-Match": f'"{ids["incident_version"]}"'})  # fmt: skip


def _outage(c, ids, role):
    body = {"operator_id": ids["vodokanal"], "utility": "water", "title": "Замена задвижки",
            "starts_at": "2026-12-01T09:00:00+03:00", "ends_at": "2026-12-01T13:00:00+03:00",
            "area": AREA}  # fmt: skip
    return c.post("/api/planned-outages", json=body)


EVERYONE = {"admin", "dispatcher", "dispatcher-gatchina", "operator", "operator-gas", "planner"}
# (name, call, the roles that pass)
CELLS = [
    ("import own water layer", _import("water_mains", _fc(_water())), {"admin", "operator"}),
    ("import gas layer", _import("gas_pipelines", _fc(GAS_LINE)), {"admin", "operator-gas"}),
    ("import for another operator", _import("water_mains", _fc(_water()), OTHER), {"admin"}),
    ("ogc create", _ogc_create, {"admin", "operator"}),
    ("ogc replace own", _ogc("put", "own", _water("M-PUT")), {"admin", "operator"}),
    ("ogc update own", _ogc("patch", "own", {"properties": {"diameter_mm": 160}}), {"admin", "operator"}),
    ("ogc delete own", _ogc("delete", "own"), {"admin", "operator"}),
    ("ogc replace other's", _ogc("put", "other", _water("M-PUT")), {"admin"}),
    ("ogc update other's", _ogc("patch", "other", {"properties": {"diameter_mm": 160}}), {"admin"}),
    ("ogc delete other's", _ogc("delete", "other"), {"admin"}),
    ("token create", lambda c, ids, role: c.post("/api/tokens", json={"name": "m"}), EVERYONE),
    ("token revoke admin's", lambda c, ids, role: c.delete(f"/api/tokens/{ids['admin_token']}"), {"admin"}),
    ("token list", lambda c, ids, role: c.get("/api/tokens"), EVERYONE),
    ("own password change", lambda c, ids, role: c.post("/api/account/password", json={
        "current_password": "demo-2026", "new_password": "matrix-pass-1",
        "new_password_repeat": "matrix-pass-1"}), EVERYONE),
    ("admin: set a user's password", lambda c, ids, role: c.post("/admin/users/password", data={
        "username": "planner", "password": "matrix-pass-1", "password_repeat": "matrix-pass-1"}),
     {"admin"}),
    ("imports list", lambda c, ids, role: c.get("/api/imports"), EVERYONE),
    ("feature edits list", lambda c, ids, role: c.get("/api/feature-edits"), EVERYONE),
    ("layer read", lambda c, ids, role: c.get("/api/layers/water_mains.geojson?limit=1"), EVERYONE),
    ("ogc items read", lambda c, ids, role: c.get("/ogc/collections/water_mains/items?limit=1"), EVERYONE),
    ("incident create", _incident, {"admin", "dispatcher", "dispatcher-gatchina"}),
    ("incident update", _incident_patch, {"admin", "dispatcher", "dispatcher-gatchina", "operator"}),
    ("incident cut-off from the network", _incident_cut_off,
     {"admin", "dispatcher", "dispatcher-gatchina"}),
    ("incident caused-by", lambda c, ids, role: c.post(
        f"/api/incidents/{ids['incident']}/caused-by", json={"caused_by": None}),
     {"admin", "dispatcher", "dispatcher-gatchina"}),
    ("planned outage", _outage, {"admin", "operator"}),
    ("operator webhook", lambda c, ids, role: c.put(f"/api/operators/{ids['vodokanal']}/webhook",
                                                    json={"url": "https://example.invalid/h"}),
     {"admin", "operator"}),
    ("admin: create operator", lambda c, ids, role: c.post("/api/admin/operators", json={
        "slug": "m-op", "full_name": "M", "short_name": "M", "utilities": ["water"]}), {"admin"}),
    ("admin: designate", lambda c, ids, role: c.put("/api/admin/designations", json={
        "municipality": "gatchina", "utility": "water", "operator": VODOKANAL}), {"admin"}),
    ("admin: add utility", lambda c, ids, role: c.post("/api/admin/utilities", json={
        "code": "m_util", "name_ru": "М", "name_en": "M"}), {"admin"}),
    ("admin: import municipalities", lambda c, ids, role: c.post(
        "/api/municipalities/import?dry_run=true", content_type="application/geo+json",
        data=_fc({"type": "Feature", "properties": {"name": "М", "kind": "urban_okrug"},
                  "geometry": {"type": "Polygon", "coordinates": [[[34, 60], [34.1, 60],
                                                                   [34.1, 60.1], [34, 60]]]}})),
     {"admin"}),
    ("escalation rule", lambda c, ids, role: c.post("/api/escalation-rules", json={
        "level": 2, "after_minutes": 30, "source": "m"}), {"admin"}),
    ("deadline rule", lambda c, ids, role: c.post("/api/deadline-rules", json={
        "utility": "gas", "resolve_minutes": 120, "source": "m"}), {"admin"}),
]  # fmt: skip


@pytest.fixture
def ids(session) -> dict:
    """Feature, operator and token ids the cells act on."""

    def one(sql, **params):
        return session.execute(text(sql), params).scalar_one()

    feature = ("SELECT min(f.id) FROM network_features f JOIN operators o ON o.id = f.operator_id"
               " WHERE f.layer_id = 'water_mains' AND o.slug = :s")  # fmt: skip
    incident = session.execute(text(
        "SELECT i.id, i.version FROM incidents i JOIN operators o ON o.id = i.operator_id"
        " WHERE o.slug = :s AND i.status IN ('assigned', 'accepted', 'in_progress')"
        " ORDER BY i.id LIMIT 1"), {"s": VODOKANAL}).one()  # fmt: skip
    return {
        "incident": incident.id,
        "incident_version": incident.version,
        "own": one(feature, s=VODOKANAL),
        "other": one(feature, s=OTHER),
        "vodokanal": one("SELECT id FROM operators WHERE slug = :s", s=VODOKANAL),
        "admin_token": one(
            "SELECT min(t.id) FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE u.username = 'admin'"
        ),  # fmt: skip
        "owner_of": {"water_mains": VODOKANAL, "gas_pipelines": "demo-gazraspredelenie"},
    }


def _snapshot(session) -> tuple:
    return session.execute(text(
        "SELECT (SELECT md5(string_agg(f::text, ',' ORDER BY id)) FROM network_features f"
        "  WHERE layer_id IN ('water_mains', 'gas_pipelines')),"
        " (SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM incidents i),"
        " (SELECT count(*) FROM planned_outages),"
        " (SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL),"
        " (SELECT md5(string_agg(coalesce(webhook_url, ''), ',' ORDER BY id)) FROM operators),"
        " (SELECT count(*) FROM feature_edits)"
    )).one()  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "call", "allowed"), CELLS, ids=[c[0] for c in CELLS])
def test_matrix(app, client_as, anon_client, session, ids, role, name, call, allowed):
    test_client = anon_client if role == "anonymous" else client_as(role)
    before = _snapshot(session)
    response = call(test_client, ids, role)
    status = response.status_code
    if role in allowed:
        assert 200 <= status < 300, (name, role, status, response.get_data(as_text=True)[:300])
        return
    expected = {401} if role == "anonymous" else {403, 404}
    assert status in expected, (name, role, status, response.get_data(as_text=True)[:300])
    assert _snapshot(session) == before, (name, role, "a refused request changed data")


SAMPLE = {"layer_id": "water_mains", "collection_id": "water_mains", "slug": "gatchina",
          "feature_id": "FEATURE", "incident_id": "INCIDENT", "outage_id": "1", "package": "leaflet",
          "filename": "leaflet.js", "z": "14", "x": "9361", "y": "4736"}  # fmt: skip


def _reads(app, ids) -> list[str]:
    """Every non-public GET route of the app, with sample values in its path."""
    import re

    from gis_app.web.access import PUBLIC_ENDPOINTS

    paths = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC_ENDPOINTS or getattr(view, "is_public", False):
            continue
        if "GET" not in rule.methods or rule.endpoint == "auth.login":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE.get(m.group(1), "1"), rule.rule)
        paths.append(
            path.replace("FEATURE", str(ids["own"])).replace("INCIDENT", str(ids["incident"]))
        )
    return sorted(paths)


# Reads only admins may make (the rest get 403).
ADMIN_ONLY_READS = {"/admin/rules", "/admin/users"}


@pytest.mark.parametrize("role", ROLES)
def test_every_non_public_read(app, client_as, anon_client, ids, role):
    """Anonymous callers get 401; every role reads what an admin reads (the same status)."""
    admin = client_as("admin")
    test_client = anon_client if role == "anonymous" else client_as(role)
    checked = 0
    for path in _reads(app, ids):
        headers = {"Accept": "application/json"}
        expected = 401
        if role != "anonymous":
            with admin.get(path, headers=headers) as response:  # exports stream files: close them
                expected = response.status_code
            if path in ADMIN_ONLY_READS and role != "admin":
                expected = 403
        with test_client.get(path, headers=headers) as response:
            got = response.status_code
        assert got == expected, (role, path, got, expected)
        checked += 1
    assert checked >= 20
