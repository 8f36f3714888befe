"""Helpers shared by the tests (import: `from helpers import ...`)."""

from __future__ import annotations


def assert_error(response, status: int, code: str) -> dict:
    """The response is a JSON error of the one shape, with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"status", "code", "message", "details"}
    assert body["status"] == status and body["code"] == code
    assert body["message"]
    return body


def assert_feature_collection(response) -> dict:
    """The response is an RFC 7946 FeatureCollection served as application/geo+json."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["id"], int)
        assert feature["geometry"]["type"] in {
            "Point",
            "LineString",
            "MultiLineString",
            "Polygon",
            "MultiPolygon",
            "MultiPoint",
        }
    return body
