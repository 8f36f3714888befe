"""Password changes: a user changes their own (page and API: the current password checked under
the login limits, one rule set for the new one), their other sessions end, their tokens stay
unless they ask; an admin sets a password (page and CLI) that must be changed at the next login.

Users are made fresh for each test and roll back with it (the CLI test commits and cleans up).
"""

from __future__ import annotations

import re

import pytest
from helpers import assert_error, post_login
from sqlalchemy import text

from gis_app.accounts.users import create_token, create_user
from gis_app.cli import main

OLD, NEW = "old-password-1", "new-password-2"


@pytest.fixture
def user(session):
    """A fresh planner with the password OLD, and an API token of theirs."""
    create_user(session, "pw-ivanova", "planner", password=OLD)
    token = create_token(session, "pw-ivanova", "tests")
    session.flush()
    return {"username": "pw-ivanova", "token": token}


def _browser(app, username: str, password: str, address: str = "192.0.2.20"):
    """A test client logged in by the login form (a session cookie), from a TEST-NET address."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    assert post_login(browser, username=username, password=password).status_code == 302
    return browser


def _csrf(browser) -> str:
    page = browser.get("/account/password").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _body(current=OLD, new=NEW, repeat=None, **extra) -> dict:
    return {
        "current_password": current,
        "new_password": new,
        "new_password_repeat": new if repeat is None else repeat,
        **extra,
    }


def _bearer(app, token: str, address: str = "192.0.2.30"):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _password_is(session, username: str, password: str) -> bool:
    from werkzeug.security import check_password_hash

    stored = session.execute(
        text("SELECT password_hash FROM users WHERE username = :u"), {"u": username}
    ).scalar_one()
    return check_password_hash(stored, password)


def _failures(session, username: str) -> int:
    return session.execute(
        text("SELECT count(*) FROM login_failures WHERE username = :u"), {"u": username}
    ).scalar_one()


def test_wrong_current_password_is_refused_and_counted(app, user, session):
    api = _bearer(app, user["token"])
    body = assert_error(
        api.post("/api/account/password", json=_body(current="not-the-password")),
        403,
        "wrong_password",
    )
    assert body["details"] == {"parameter": "current_password"}
    assert _password_is(session, user["username"], OLD)
    assert _failures(session, user["username"]) == 1  # as a failed login is
    assert_error(
        api.post("/api/account/password", json=_body(current=None)), 400, "invalid_parameter"
    )


@pytest.mark.parametrize(
    ("new", "field", "code"),
    [
        ("short", "new_password", "weak_password"),
        ("x" * 257, "new_password", "weak_password"),
        ("PW-Ivanova", "new_password", "weak_password"),  # the user name, in other case
        ("demo-2026", "new_password", "weak_password"),  # the demo accounts' password
        (OLD, "new_password", "weak_password"),  # the current one
        (12345678, "new_password", "invalid_parameter"),
        # Refused as a NUL anywhere in a JSON body is (web/guard.py), with its JSON pointer.
        ("bad\x00password", "/new_password", "invalid_json_value"),
    ],
)
def test_weak_new_password_names_the_field(app, user, session, new, field, code):
    body = assert_error(
        _bearer(app, user["token"]).post("/api/account/password", json=_body(new=new)), 400, code
    )
    named = body["details"].get("parameter") or body["details"].get("pointer")
    assert named.startswith(field)  # the pointer of a JSON value may name the repeat first
    assert _password_is(session, user["username"], OLD)
    # Refused before the current password is checked: no failure counted.
    assert _failures(session, user["username"]) == 0


def test_mismatch_and_bad_bodies(app, user, session):
    api = _bearer(app, user["token"])
    body = assert_error(
        api.post("/api/account/password", json=_body(repeat=NEW + "x")), 400, "password_mismatch"
    )
    assert body["details"]["parameter"] == "new_password_repeat"
    assert_error(api.post("/api/account/password", json=[1]), 400, "invalid_body")
    bad = api.post("/api/account/password", json=_body(revoke_tokens="yes"))
    assert assert_error(bad, 400, "invalid_parameter")["details"]["parameter"] == "revoke_tokens"
    assert _password_is(session, user["username"], OLD)


def test_the_same_rules_when_users_are_made(session):
    from gis_app.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="user name"):
        create_user(session, "pw-petrov", "planner", password="pw-petrov")
    with pytest.raises(InvalidParameter, match="demo accounts"):
        create_user(session, "pw-petrov", "planner", password="demo-2026")


def test_change_keeps_this_session_and_ends_the_others(app, user, session):
    here = _browser(app, user["username"], OLD)
    there = _browser(app, user["username"], OLD, "192.0.2.21")
    old_cookie = here.get_cookie("session").value
    # A session write needs the session's CSRF token, as every other one.
    assert_error(here.post("/api/account/password", json=_body()), 403, "csrf_failed")
    changed = here.post(
        "/api/account/password", json=_body(), headers={"X-CSRF-Token": _csrf(here)}
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json() == {
        "changed": True,
        "other_sessions_ended": True,
        "tokens_revoked": False,
    }
    # This login goes on with a new cookie; the other one and a copy of the old cookie do not.
    assert here.get_cookie("session").value != old_cookie
    assert here.get("/api/me").get_json()["username"] == user["username"]
    assert there.get("/api/me").status_code == 401
    stolen = app.test_client()
    stolen.set_cookie("session", old_cookie)
    assert stolen.get("/api/me").status_code == 401
    # The token was kept; the new password logs in, the old one no longer.
    assert _bearer(app, user["token"]).get("/api/me").status_code == 200
    assert post_login(app.test_client(), username=user["username"], password=OLD).status_code == 401
    assert _browser(app, user["username"], NEW).get("/api/me").status_code == 200
    change = session.execute(
        text(
            "SELECT username, action, after FROM admin_changes WHERE entity = 'user'"
            " AND entity_key = :u ORDER BY id DESC LIMIT 1"
        ),
        {"u": user["username"]},
    ).one()
    assert change == (user["username"], "password_changed", {"tokens_revoked": 0})


def test_page_form_changes_the_password(app, user, session):
    here = _browser(app, user["username"], OLD)
    page = here.get("/account/password")
    assert page.status_code == 200 and "Смена пароля" in page.get_data(as_text=True)
    assert "Change password" in here.get("/account/password?lang=en").get_data(as_text=True)
    form = {"csrf_token": _csrf(here), "current_password": "wrong-password", "new_password": NEW}
    wrong = here.post("/account/password", data={**form, "new_password_repeat": NEW})
    assert wrong.status_code == 403 and "Текущий пароль неверен" in wrong.get_data(as_text=True)
    differ = here.post("/account/password", data={**form, "new_password_repeat": "other-one"})
    assert differ.status_code == 400
    assert "Новые пароли не совпадают" in differ.get_data(as_text=True)
    done = here.post(
        "/account/password",
        data={**form, "current_password": OLD, "new_password_repeat": NEW, "revoke_tokens": "1"},
    )
    assert done.status_code == 200 and "Пароль изменён" in done.get_data(as_text=True)
    assert _password_is(session, user["username"], NEW)
    assert here.get("/api/me").status_code == 200
    # Asked to: the tokens are revoked too.
    assert _bearer(app, user["token"]).get("/api/me").status_code == 401


def test_tokens_revoked_when_asked_by_a_token_client(app, user, session):
    api = _bearer(app, user["token"])
    answer = api.post("/api/account/password", json=_body(revoke_tokens=True))
    assert answer.status_code == 200 and answer.get_json()["tokens_revoked"] is True
    assert_error(api.get("/api/me"), 401, "invalid_token")
    assert _password_is(session, user["username"], NEW)


def test_failed_current_passwords_count_toward_the_login_limit(app, user, session):
    api = _bearer(app, user["token"], "192.0.2.40")
    for _ in range(5):
        wrong = api.post("/api/account/password", json=_body(current="guess-password"))
        assert_error(wrong, 403, "wrong_password")
    blocked = api.post("/api/account/password", json=_body())  # the right one, too late
    body = assert_error(blocked, 429, "too_many_attempts")
    assert blocked.headers["Retry-After"] == str(body["details"]["retry_after_s"]) == "900"
    assert _password_is(session, user["username"], OLD)
    # The same count as the login form: the user name is blocked there too, and the reverse.
    login = post_login(app.test_client(), username=user["username"], password=OLD)
    assert login.status_code == 429


def test_admin_sets_a_password_that_must_be_changed(app, client, client_as, user, session):
    victim = _browser(app, user["username"], OLD)
    assert_error(client_as("planner").get("/admin/users"), 403, "forbidden")
    listing = client.get("/admin/users")
    assert listing.status_code == 200 and user["username"] in listing.get_data(as_text=True)
    weak = client.post(
        "/admin/users/password",
        data={"username": user["username"], "password": "short", "password_repeat": "short"},
    )
    assert weak.status_code == 400 and "at least 8" in weak.get_data(as_text=True)
    reset = client.post(
        "/admin/users/password",
        data={"username": user["username"], "password": "temp-pass-9", "password_repeat": "temp-pass-9"},
    )  # fmt: skip
    assert reset.status_code == 200 and "сменит его" in reset.get_data(as_text=True)
    assert "должен сменить пароль" in client.get("/admin/users").get_data(as_text=True)
    # The user's sessions ended; their token (not asked to revoke) works on.
    assert victim.get("/api/me").status_code == 401
    assert _bearer(app, user["token"]).get("/api/layers").status_code == 200
    # The next login lands on the change page; every other page and API answers 403 until then.
    held = app.test_client()
    login = post_login(held, username=user["username"], password="temp-pass-9")
    assert login.headers["Location"] == "/account/password?next=/start"
    start = held.get("/start", headers={"Accept": "text/html"})
    assert start.status_code == 302
    assert start.headers["Location"].startswith("/account/password?next=")
    assert_error(held.get("/api/layers"), 403, "password_change_required")
    assert held.get("/api/me").status_code == 200
    page = held.get("/account/password").get_data(as_text=True)
    assert "Администратор задал вам пароль" in page
    done = held.post(
        "/account/password",
        data={
            "csrf_token": _csrf(held),
            "current_password": "temp-pass-9",
            "new_password": NEW,
            "new_password_repeat": NEW,
            "next": "/api/layers",
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == "/api/layers"
    assert held.get("/api/layers").status_code == 200
    actions = session.execute(
        text(
            "SELECT username, action FROM admin_changes WHERE entity = 'user' AND entity_key = :u"
            " ORDER BY id"
        ),
        {"u": user["username"]},
    ).all()
    assert actions == [("admin", "password_reset"), (user["username"], "password_changed")]


def test_cli_set_password_reads_stdin_or_a_prompt(app, runner, engine):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username = 'pw-cli-user'"))
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        create_user(s, "pw-cli-user", "planner", password=OLD)
    try:
        assert "PASSWORD" not in runner.invoke(main, ["users", "set-password", "--help"]).output
        done = runner.invoke(
            main,
            ["users", "set-password", "pw-cli-user", "--password-stdin"],
            input="cli-pass-123\n",
        )
        assert done.exit_code == 0, done.output
        assert "must be changed at the next login" in done.output
        assert "must-change-password" in runner.invoke(main, ["users", "list"]).output
        prompted = runner.invoke(
            main, ["users", "set-password", "pw-cli-user"], input="cli-pass-456\ncli-pass-456\n"
        )
        assert prompted.exit_code == 0, prompted.output
        differ = runner.invoke(
            main, ["users", "set-password", "pw-cli-user"], input="cli-pass-789\ncli-pass-000\n"
        )
        assert differ.exit_code != 0 and "differ" in differ.output
        weak = runner.invoke(
            main,
            ["users", "set-password", "pw-cli-user", "--password-stdin"],
            input="pw-cli-user\n",
        )
        assert weak.exit_code != 0 and "user name" in weak.output
        assert runner.invoke(main, ["users", "set-password", "nobody"], input="a\na\n").exit_code
        browser = app.test_client()
        assert (
            post_login(browser, username="pw-cli-user", password="cli-pass-456").status_code == 302
        )
        assert_error(browser.get("/api/layers"), 403, "password_change_required")
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM admin_changes WHERE entity_key = 'pw-cli-user'"))
            conn.execute(text("DELETE FROM login_failures WHERE username = 'pw-cli-user'"))
            conn.execute(text("DELETE FROM users WHERE username = 'pw-cli-user'"))


def test_the_identity_cache_forgets_at_once_in_this_worker(postgis_url, connection, user):
    """With GIS_APP_AUTH_CACHE_S, the worker that made the change forgets the old sessions at
    once (other workers within the setting, as for logout: docs/security.md)."""
    from gis_app import create_app

    cached = create_app({"DATABASE_URL": postgis_url, "TESTING": True, "GIS_APP_AUTH_CACHE_S": 60})
    cached.config["SESSION_BIND"] = connection
    try:
        here = _browser(cached, user["username"], OLD)
        there = _browser(cached, user["username"], OLD, "192.0.2.22")
        assert there.get("/api/me").status_code == 200  # remembered now
        changed = here.post(
            "/api/account/password", json=_body(), headers={"X-CSRF-Token": _csrf(here)}
        )
        assert changed.status_code == 200
        assert here.get("/api/me").status_code == 200
        assert there.get("/api/me").status_code == 401
    finally:
        cached.config["ENGINE"].dispose()
