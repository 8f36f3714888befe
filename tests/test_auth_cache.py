"""Each worker remembers who a token is for GIS_APP_AUTH_CACHE_S seconds (a map's tiles would
otherwise each ask the database): a revoked token is refused once that time has passed, and an
unknown token is never remembered."""

from __future__ import annotations

import time

from helpers import assert_error
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gis_app import config, create_app
from gis_app.accounts.users import create_token


def test_a_revoked_token_is_refused_once_the_cache_time_has_passed(postgis_url):
    app = create_app({"DATABASE_URL": postgis_url, "TESTING": True, "GIS_APP_AUTH_CACHE_S": 3})
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with Session(engine) as session, session.begin():
        token = create_token(session, "planner", "auth cache test")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        assert client.get("/api/me", headers=headers).get_json()["username"] == "planner"
        revoked_at = time.monotonic()
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE api_tokens SET revoked_at = now() WHERE token_hash IS NOT NULL"
                     " AND name = 'auth cache test'")
            )  # fmt: skip
        still = client.get("/api/me", headers=headers)
        if time.monotonic() - revoked_at < 2.5:  # remembered: not asked again yet
            assert still.status_code == 200
        time.sleep(max(0.0, 3.1 - (time.monotonic() - revoked_at)))
        assert_error(client.get("/api/me", headers=headers), 401, "invalid_token")
        # Unknown tokens are looked up every time (never remembered as anyone).
        assert_error(client.get("/api/me", headers={"Authorization": "Bearer nope"}), 401,
                     "invalid_token")  # fmt: skip
        # Revoked through the API: this worker forgets its identities at once.
        with Session(engine) as session, session.begin():
            second = create_token(session, "planner", "auth cache test")
        mine = {"Authorization": f"Bearer {second}"}
        listed = client.get("/api/tokens", headers=mine).get_json()["tokens"]
        token_id = next(t["id"] for t in listed
                        if t["name"] == "auth cache test" and t["revoked_at"] is None)  # fmt: skip
        assert client.delete(f"/api/tokens/{token_id}", headers=mine).status_code == 204
        assert_error(client.get("/api/me", headers=mine), 401, "invalid_token")
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM api_tokens WHERE name = 'auth cache test'"))
        engine.dispose()
        app.config["ENGINE"].dispose()
