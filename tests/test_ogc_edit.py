"""OGC API - Features Part 4: create, replace, update and delete one feature, checked as imports
are, by the operator's own staff only; the change is recorded on the feature."""

from __future__ import annotations

from sqlalchemy import text

ITEMS = "/ogc/collections/water_mains/items"
GEOJSON = "application/geo+json"


def assert_error(response, status: int, code: str) -> dict:
    """An OGC exception ({code, description}) that is also the service's one error shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"status", "code", "message", "details", "description"}
    assert body["code"] == code and body["status"] == status and body["description"]
    return body


def _feature(ext="E-1", **props):
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[30.1, 59.57], [30.101, 59.571]]},
        "properties": {
            "external_id": ext,
            "name": "Водовод «Северный»",
            "diameter_mm": 250,
            **props,
        },
    }


def _stored(session, fid):
    return session.execute(
        text("SELECT external_id, name, attributes, updated_by, ST_X(ST_StartPoint(geom)) AS x,"
             " ST_Y(ST_StartPoint(geom)) AS y FROM network_features WHERE id = :i"), {"i": fid},
    ).one_or_none()  # fmt: skip


def _create(test_client, body=None, **kw):
    return test_client.post(ITEMS, json=body or _feature(), content_type=GEOJSON, **kw)


def test_part4_is_declared(client):
    classes = client.get("/ogc/conformance?f=json").get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update" in classes


def test_create_replace_update_delete(client_as, session):
    operator = client_as("operator")
    created = _create(operator)
    assert created.status_code == 201, created.get_json()
    location = created.headers["Location"]
    fid = int(location.rsplit("/", 1)[1])
    row = _stored(session, fid)
    assert (row.external_id, row.name, row.updated_by) == ("E-1", "Водовод «Северный»",
                                                           "operator-vodokanal-gatchina")  # fmt: skip
    assert row.attributes == {"diameter_mm": 250}
    served = operator.get(f"{ITEMS}/{fid}?f=json").get_json()
    assert served["properties"]["name"] == "Водовод «Северный»"
    # PUT replaces everything (what the GET served may be sent back: read-only keys are ignored).
    served["properties"]["material"] = "pvc"
    del served["properties"]["diameter_mm"]
    served["properties"]["diameter_mm"] = 315
    assert operator.put(f"{ITEMS}/{fid}", json=served, content_type=GEOJSON).status_code == 204
    assert _stored(session, fid).attributes == {"diameter_mm": 315, "material": "pvc"}
    # PATCH merges: null removes an attribute; the geometry may come in another CRS.
    patch = {"properties": {"material": None, "dead_end": True},
             "geometry": {"type": "LineString", "coordinates": [[59.57, 30.1], [59.572, 30.102]]}}  # fmt: skip
    response = client_as("admin").patch(
        f"{ITEMS}/{fid}", json=patch, content_type="application/merge-patch+json",
        headers={"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4326>"},
    )  # fmt: skip
    assert response.status_code == 204, response.get_json()
    row = _stored(session, fid)
    assert row.attributes == {"diameter_mm": 315, "dead_end": True}
    assert (row.x, row.y, row.updated_by) == (30.1, 59.57, "admin")
    assert operator.delete(f"{ITEMS}/{fid}").status_code == 204
    assert _stored(session, fid) is None
    assert_error(operator.delete(f"{ITEMS}/{fid}"), 404, "feature_not_found")


def test_edits_are_validated_like_imports(client_as):
    operator = client_as("operator")
    bad = assert_error(_create(operator, _feature(diameter_mm=3)), 422, "invalid_feature")
    assert bad["details"]["reasons"] == ["'diameter_mm' must be at least 15 mm"]
    outside = _feature()
    outside["geometry"]["coordinates"] = [[37.6, 55.75], [37.61, 55.76]]
    assert_error(_create(operator, outside), 422, "invalid_feature")
    unknown = assert_error(_create(operator, _feature(colour="blue")), 422, "invalid_feature")
    assert "unknown attribute 'colour'" in unknown["details"]["reasons"][0]
    point = _feature()
    point["geometry"] = {"type": "Point", "coordinates": [30.1, 59.57]}
    assert_error(_create(operator, point), 422, "invalid_feature")
    assert _create(operator).status_code == 201
    assert_error(_create(operator), 409, "external_id_taken")
    assert_error(
        operator.post(ITEMS, data="x", content_type="text/plain"), 400, "invalid_parameter"
    )


def test_only_own_features_and_only_layers(client_as, session):
    gas_feature = session.execute(text(
        "SELECT id FROM network_features WHERE layer_id = 'water_mains' AND operator_id ="
        " (SELECT id FROM operators WHERE slug = 'demo-vodokanal-sosnovy-bor') LIMIT 1")).scalar()  # fmt: skip
    operator = client_as("operator")
    assert_error(operator.delete(f"{ITEMS}/{gas_feature}"), 403, "not_your_operator")
    assert_error(operator.patch(f"{ITEMS}/{gas_feature}", json={"properties": {}},
                                content_type="application/merge-patch+json"), 403, "not_your_operator")  # fmt: skip
    assert_error(client_as("operator-gas").post(ITEMS, json=_feature(), content_type=GEOJSON), 403,
                 "wrong_utility")  # fmt: skip
    for role in ("dispatcher", "planner"):
        assert_error(client_as(role).delete(f"{ITEMS}/{gas_feature}"), 403, "forbidden")
    assert client_as("admin").delete(f"{ITEMS}/{gas_feature}").status_code == 204
    response = client_as("admin").post("/ogc/collections/incidents/items", json=_feature(),
                                       content_type=GEOJSON)  # fmt: skip
    assert response.status_code == 405
