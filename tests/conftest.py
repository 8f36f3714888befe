"""Fixtures: a fresh, migrated PostGIS test database with the demo data; per-test rollback.

The test database is GIS_APP_TEST_DATABASE_URL if set, else the app's database name + "_test" on
the same server (the project-local cluster of `make test`). It is dropped and created anew for
each run. A missing PostgreSQL or PostGIS fails the run: it is never a skip.
"""

from __future__ import annotations

import threading

import pytest
from helpers import CHROMIUM_FLAGS, app_process, recreate_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.serving import make_server
from werkzeug.wsgi import FileWrapper

from gis_app import config, create_app, migrate
from gis_app.demo.load import load_demo
from gis_app.layers import LayerRegistry


def _test_url() -> str:
    explicit = config.env("GIS_APP_TEST_DATABASE_URL")
    if explicit:
        return explicit
    base = make_url(config.load_config()["DATABASE_URL"])
    return base.set(database=f"{base.database}_test").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgis_url() -> str:
    """A fresh test database, migrated to head, holding the demo data."""
    url = _test_url()
    recreate_database(url)
    migrate.upgrade(url)
    engine = create_engine(config.sqlalchemy_url(url))
    with Session(engine) as session, session.begin():
        load_demo(session, LayerRegistry.from_dir(config.PROJECT_ROOT / "layers"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def app(postgis_url):
    """The app on the test database."""
    # Every test logs in from 127.0.0.1: the per-address limit must never block the suite
    # (tests/test_login_limits.py lowers it where it is the subject).
    return create_app(
        {
            "DATABASE_URL": postgis_url,
            "TESTING": True,
            "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS": 1_000_000,
            # Tests revoke tokens and deactivate users between requests: ask every time
            # (tests/test_auth_cache.py tests the cache).
            "GIS_APP_AUTH_CACHE_S": 0,
        }
    )


@pytest.fixture(scope="session")
def engine(app):
    return app.config["ENGINE"]


@pytest.fixture
def connection(app, engine):
    """One connection in an outer transaction, rolled back after the test; the app's Session
    joins it through a savepoint, so a test's writes never outlive it."""
    conn = engine.connect()
    trans = conn.begin()
    app.config["SESSION_BIND"] = conn
    yield conn
    app.config.pop("SESSION_BIND", None)
    trans.rollback()
    conn.close()


@pytest.fixture
def session(connection):
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        yield s


# The demo accounts (gis_app/demo/load.py) that tests act as, by role.
ACCOUNTS = {
    "admin": "admin",
    "dispatcher": "dispatcher-oblast",
    "dispatcher-gatchina": "dispatcher-gatchina",
    "operator": "operator-vodokanal-gatchina",
    "operator-gas": "operator-gas",
    "planner": "planner",
}


@pytest.fixture(scope="session")
def tokens(postgis_url) -> dict[str, str]:
    """A bearer token for each account of ACCOUNTS, by role key (committed in the test database)."""
    from gis_app.accounts.users import create_token

    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with Session(engine) as session, session.begin():
        made = {key: create_token(session, username, "tests") for key, username in ACCOUNTS.items()}
    engine.dispose()
    return made


@pytest.fixture(scope="session")
def auth_headers(tokens) -> dict:
    """Headers that authenticate an admin, for real clients (OWSLib, GDAL, a browser)."""
    return {"Authorization": f"Bearer {tokens['admin']}"}


def _client_with_token(app, token: str | None):
    test_client = app.test_client()
    if token:
        test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return test_client


@pytest.fixture
def client(app, connection, tokens):
    """A test client of the app, authenticated as an admin, inside the test's transaction."""
    return _client_with_token(app, tokens["admin"])


@pytest.fixture
def get(client, auth_headers):
    """get(url, **headers) → the response of an admin GET, its streamed body already read."""

    def _get(url: str, **headers):
        response = client.get(url, headers={**auth_headers, **headers})
        # Read the streamed body now: the request's Session (a savepoint of the test's
        # transaction) closes only when the stream ends.
        response.get_data()
        response.close()
        return response

    return _get


@pytest.fixture
def anon_client(app, connection):
    """A test client with no login."""
    return app.test_client()


@pytest.fixture
def client_as(app, connection, tokens):
    """client_as("operator") → a test client authenticated as that account of ACCOUNTS."""
    return lambda role: _client_with_token(app, tokens[role])


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over HTTP on a free loopback port (for the browser); committed data only."""
    server = make_server("127.0.0.1", 0, _files_read_at_once(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _files_read_at_once(app):
    """A file answer (a static file) read whole and closed before it is sent. Werkzeug's test
    server does not close a file answer when the browser drops the connection mid-way (a page
    left while its favicon loads), and the open file surfaced as a ResourceWarning, an error
    here, in whichever test ran next."""

    def wsgi(environ, start_response):
        answer = app(environ, start_response)
        if not isinstance(answer, FileWrapper):
            return answer
        try:
            return [b"".join(answer)]
        finally:
            answer.close()

    return wsgi


@pytest.fixture(scope="session")
def process_server(postgis_url, tokens):
    """The app in a process of its own, for clients that hold the GIL while they read (GDAL) or
    run in another Python (QGIS): they cannot talk to a server thread of this process."""
    with app_process(postgis_url) as url:
        yield url


@pytest.fixture(scope="module")
def counts(engine) -> dict[str, int]:
    """Features per collection, read from the database (committed data: what servers see)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT layer_id, count(*) FROM network_features GROUP BY 1"))
        found = {row[0]: row[1] for row in rows}
        found["incidents"] = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
        found["municipalities"] = conn.execute(text("SELECT count(*) FROM municipalities")).scalar()
    return found


@pytest.fixture(scope="module")
def browser():
    """A headless Debian Chromium per test module (never downloaded; module scope, because
    Playwright's sync API allows one running instance and other modules start their own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def chromium(browser):
    """The same browser, by the name the workbench tests use."""
    return browser
