"""Failed logins are limited per user name and per client address, in PostgreSQL, so the limit
holds across workers: blocked attempts get 429 with Retry-After and are neither checked nor
recorded; a success clears the user name's failures; the block ends with the window.

Users are made fresh for each test (the demo accounts log in elsewhere), requests come from
TEST-NET addresses (not the suite's 127.0.0.1), and all but the parallel test roll back.
"""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gis_app import config, create_app
from gis_app.accounts.users import create_user
from gis_app.config import ConfigError, load_config

PASSWORD = "right-password-1"
BLOCKED_RU = re.compile(
    r"Слишком много неудачных попыток входа под этим именем пользователя\. "
    r"Попробуйте снова после \d\d:\d\d МСК \(через (\d+) мин\)\. / "
    r"Too many failed log-ins for this user name\. Try again after \d\d:\d\d MSK \(in (\d+) min\)\."
)


@pytest.fixture
def login_from(app, connection):
    """login_from(address) → post(username, password): a login form POST from that address."""

    def _from(address: str):
        test_client = app.test_client()
        test_client.environ_base["REMOTE_ADDR"] = address

        def post(username: str, password: str):
            return test_client.post("/login", data={"username": username, "password": password})

        return post

    return _from


@pytest.fixture
def users(session):
    """Two fresh planners with PASSWORD, rolled back with the test."""
    for name in ("limits-ivanova", "limits-petrov"):
        create_user(session, name, "planner", password=PASSWORD)
    session.flush()
    return "limits-ivanova", "limits-petrov"


def _failures(session, username: str) -> int:
    return session.execute(
        text("SELECT count(*) FROM login_failures WHERE username = :u"), {"u": username}
    ).scalar_one()


def test_sixth_attempt_is_blocked_even_with_the_right_password(login_from, users, session):
    post = login_from("192.0.2.10")
    ivanova, petrov = users
    for _ in range(5):
        assert post(ivanova, "wrong-password").status_code == 401
    assert _failures(session, ivanova) == 5
    blocked = post(ivanova, PASSWORD)
    assert blocked.status_code == 429
    assert blocked.mimetype == "text/html"
    # The test's transaction fixes now(): the oldest failure is now, so the block is the window.
    assert blocked.headers["Retry-After"] == "900"
    match = BLOCKED_RU.search(blocked.get_data(as_text=True))
    assert match and match.groups() == ("15", "15")
    assert 'name="password"' in blocked.get_data(as_text=True)  # the form, to try again later
    # Blocked attempts are not recorded (nor checked): the block ends when Retry-After says.
    assert post(ivanova, "wrong-again").status_code == 429
    assert _failures(session, ivanova) == 5
    # The name is blocked, not the address nor anyone else, nor the name by the case typed.
    assert post(f"  {ivanova.upper()} ", PASSWORD).status_code == 429
    assert post(petrov, PASSWORD).status_code == 302
    assert login_from("192.0.2.11")(ivanova, PASSWORD).status_code == 429


def test_unknown_user_names_count_alike(login_from, users, session):
    post = login_from("192.0.2.20")
    known, unknown = [], []
    for _ in range(5):
        known.append(post(users[0], "wrong-password"))
        unknown.append(post("limits-nobody", "wrong-password"))
    for a, b in zip(known, unknown, strict=True):
        assert a.status_code == b.status_code == 401
        assert a.get_data() == b.get_data()
    assert _failures(session, "limits-nobody") == 5
    a, b = post(users[0], PASSWORD), post("Limits-Nobody", PASSWORD)
    assert a.status_code == b.status_code == 429
    assert a.headers["Retry-After"] == b.headers["Retry-After"]
    assert a.get_data() == b.get_data()


def test_per_address_limit(app, login_from, users, session, monkeypatch):
    monkeypatch.setitem(app.config, "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS", 3)
    post = login_from("192.0.2.30")
    for name in ("limits-a", "limits-b", "limits-c"):
        assert post(name, "wrong-password").status_code == 401
    blocked = post(users[0], PASSWORD)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "900"
    body = blocked.get_data(as_text=True)
    assert "Слишком много неудачных попыток входа с этого адреса" in body
    assert "Too many failed log-ins from this address" in body
    # Another address is not blocked, nor is the user name.
    assert login_from("192.0.2.31")(users[0], PASSWORD).status_code == 302
    # A success from another address does not lift the first address's block.
    assert post(users[1], PASSWORD).status_code == 429


def test_a_success_clears_the_count(login_from, users, session):
    post = login_from("192.0.2.40")
    for _ in range(4):
        assert post(users[0], "wrong-password").status_code == 401
    assert post(users[0], PASSWORD).status_code == 302
    assert _failures(session, users[0]) == 0
    for _ in range(5):
        assert post(users[0], "wrong-password").status_code == 401
    assert post(users[0], "wrong-password").status_code == 429


def test_the_block_ends_with_the_window(login_from, users, session):
    post = login_from("192.0.2.50")
    for _ in range(5):
        assert post(users[0], "wrong-password").status_code == 401
    move = text(
        "UPDATE login_failures SET failed_at = failed_at - CAST(:d AS interval) WHERE username = :u"
    )
    session.execute(move, {"d": "10 minutes", "u": users[0]})
    session.flush()
    blocked = post(users[0], PASSWORD)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "300"
    assert BLOCKED_RU.search(blocked.get_data(as_text=True)).groups() == ("5", "5")
    session.execute(move, {"d": "5 minutes 1 second", "u": users[0]})
    session.flush()
    assert post(users[0], PASSWORD).status_code == 302


def test_old_failures_are_pruned(login_from, users, session):
    session.execute(
        text(
            "INSERT INTO login_failures (username, address, failed_at)"
            " VALUES ('limits-long-ago', '192.0.2.60', now() - interval '16 minutes')"
        )
    )
    session.flush()
    assert login_from("192.0.2.61")(users[0], "wrong-password").status_code == 401
    assert _failures(session, "limits-long-ago") == 0
    assert _failures(session, users[0]) == 1


@pytest.mark.parametrize(
    "name",
    [
        "GIS_APP_LOGIN_MAX_FAILURES",
        "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS",
        "GIS_APP_LOGIN_BLOCK_MINUTES",
    ],
)
def test_limits_must_be_positive(postgis_url, name):
    with pytest.raises(ConfigError, match=name):
        load_config({"DATABASE_URL": postgis_url, name: 0})


def test_parallel_guesses_in_many_workers_check_only_the_limit(postgis_url):
    """Twelve wrong guesses at once, each on its own connection and committed as in separate
    gunicorn workers: exactly five passwords are checked, the rest are refused."""
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    username = "limits-parallel"
    with Session(engine) as session, session.begin():
        create_user(session, username, "planner", password=PASSWORD)
    app = create_app({"DATABASE_URL": postgis_url, "GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS": 100})
    try:
        start, statuses = threading.Barrier(12), []

        def guess(i: int) -> None:
            test_client = app.test_client()
            test_client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i}"
            start.wait()
            response = test_client.post("/login", data={"username": username, "password": "x"})
            statuses.append(response.status_code)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [401] * 5 + [429] * 7
        with engine.connect() as conn:
            assert _failures(conn, username) == 5
    finally:
        app.config["ENGINE"].dispose()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM login_failures WHERE username = :u"), {"u": username})
            conn.execute(text("DELETE FROM users WHERE username = :u"), {"u": username})
        engine.dispose()
