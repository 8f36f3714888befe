"""Every error has one JSON shape; HTML pages get an error page; no internals leak."""

from __future__ import annotations

from helpers import assert_error

from gis_app import create_app


def test_unknown_api_route_is_json_404(client):
    assert_error(client.get("/api/nothing-here"), 404, "not_found")


def test_wrong_method_is_json_405_with_allow(client):
    response = client.post("/api/layers")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_unknown_map_page_is_an_html_error_page(client):
    response = client.get("/map/atlantis", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "atlantis" in response.get_data(as_text=True)


def test_unexpected_error_is_500_without_details(postgis_url, auth_headers):
    app = create_app({"DATABASE_URL": postgis_url})

    @app.get("/api/boom-test")
    def boom():
        raise RuntimeError("SELECT secret FROM somewhere")

    body = assert_error(
        app.test_client().get("/api/boom-test", headers=auth_headers), 500, "internal_error"
    )
    assert "secret" not in body["message"]
