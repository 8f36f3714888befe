"""Faults (issue 11): a database that is down or restarting is a 503 with Retry-After in the
error shape and one log line per failure; the pool survives a restart of PostgreSQL."""

from __future__ import annotations

import logging
import socket

from helpers import assert_error
from sqlalchemy import create_engine, text

from gis_app import config, create_app
from gis_app.db import make_engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_database_that_is_down_is_a_503_with_one_log_line(tokens, caplog):
    # A PostgreSQL that is not there (stopped, or not yet back): nothing listens on the port.
    dead = create_app(
        {"TESTING": True, "DATABASE_URL": f"postgresql://gis:x@127.0.0.1:{free_port()}/gis"}
    )
    client = dead.test_client()
    headers = {"Authorization": f"Bearer {tokens['planner']}"}
    caplog.set_level(logging.INFO)
    for url in ("/api/layers", "/ogc/collections/water_mains/items", "/open311/v2/services.json"):
        caplog.clear()
        r = client.get(url, headers=headers)
        body = assert_error(r, 503, "database_unavailable") if not url.startswith("/ogc") else None
        assert r.status_code == 503 and r.headers["Retry-After"] == "5", url
        if body is None:  # OGC answers carry the description too
            assert r.get_json()["code"] == "database_unavailable"
        assert "127.0.0.1" not in r.get_data(as_text=True)  # no driver text for the client
        errors = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
        assert len(errors) == 1, [rec.getMessage() for rec in errors]
        assert errors[0].exc_info is None and "database unavailable" in errors[0].getMessage()
    # A page asked for by a browser is an HTML error page, 503 too.
    page = client.get("/", headers={**headers, "Accept": "text/html"})
    assert page.status_code == 503 and page.mimetype == "text/html"


def test_a_restart_of_postgresql_costs_no_request(postgis_url, tokens):
    # The app's pooled connections die as in a restart (the server ends them); the pool checks
    # a connection before lending it, so the next request reconnects and succeeds.
    engine = make_engine(postgis_url, connect_args={"application_name": "gis-app-fault-test"})
    app = create_app({"TESTING": True, "DATABASE_URL": postgis_url, "ENGINE": engine})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['planner']}"}
    assert client.get("/api/utilities", headers=headers).status_code == 200
    killer = create_engine(config.sqlalchemy_url(postgis_url))
    with killer.begin() as conn:
        ended = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'gis-app-fault-test'"
            )
        ).scalar_one()
    killer.dispose()
    assert ended >= 1
    assert client.get("/api/utilities", headers=headers).status_code == 200
    engine.dispose()
