"""Bad conditions of the database: a full connection pool and a server that does not answer give
a clear 503 with Retry-After in the one error shape, quickly, never a hang or a 500."""

from __future__ import annotations

import time

from helpers import assert_error
from pg_clusters import free_port

from gis_app import create_app


def test_an_exhausted_pool_answers_503_after_the_pool_timeout(postgis_url, tokens):
    app = create_app({
        "DATABASE_URL": postgis_url, "TESTING": True, "GIS_APP_DB_POOL_SIZE": 1,
        "GIS_APP_DB_MAX_OVERFLOW": 0, "GIS_APP_DB_POOL_TIMEOUT_S": 1, "GIS_APP_AUTH_CACHE_S": 0,
    })  # fmt: skip
    engine = app.config["ENGINE"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    try:
        assert client.get("/api/layers/water_mains", headers=headers).status_code == 200
        held = engine.connect()  # the pool's only connection, busy elsewhere
        started = time.monotonic()
        response = client.get("/api/layers/water_mains", headers=headers)
        waited = time.monotonic() - started
        assert_error(response, 503, "database_busy")
        assert response.headers["Retry-After"] == "2"
        assert 0.9 <= waited < 5, waited
        held.close()
        assert client.get("/api/layers/water_mains", headers=headers).status_code == 200
    finally:
        engine.dispose()


def test_a_database_that_does_not_answer_gives_503_with_retry_after(postgis_url):
    closed = free_port(60100)  # nothing listens there
    url = postgis_url.rsplit("@", 1)[0] + f"@127.0.0.1:{closed}/gis_app"
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    response = app.test_client().get(
        "/api/layers/water_mains", headers={"Authorization": "Bearer x"}
    )
    assert_error(response, 503, "database_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert "psycopg2" not in body["message"] and "127.0.0.1" not in body["message"]
