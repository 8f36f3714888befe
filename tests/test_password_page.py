"""The password change in real Chromium: from the map header's user name to «Смена пароля», a
change, log out, log in with the new password; and an admin-set password that the next login
must change before the map opens.

The live server sees committed data only: the user is committed here and removed after.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.passwords import set_password
from gis_app.accounts.users import create_user

USERNAME, FIRST, SECOND, THIRD = "pw-browser", "first-pass-1", "second-pass-2", "third-pass-3"


def _remove(engine) -> None:
    with engine.begin() as conn:
        for sql in (
            "DELETE FROM admin_changes WHERE entity = 'user' AND entity_key = :u",
            "DELETE FROM login_failures WHERE username = :u",
            "DELETE FROM users WHERE username = :u",
        ):
            conn.execute(text(sql), {"u": USERNAME})


@pytest.fixture
def committed_user(engine):
    """A planner with the password FIRST, committed for the live server; removed afterwards."""
    _remove(engine)
    with Session(engine) as session, session.begin():
        create_user(session, USERNAME, "planner", password=FIRST)
    yield USERNAME
    _remove(engine)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ru-RU")
    problems: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    yield page
    context.close()


def _log_in(page, live_server, password: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _change(page, current: str, new: str) -> None:
    page.fill("input[name=current_password]", current)
    page.fill("input[name=new_password]", new)
    page.fill("input[name=new_password_repeat]", new)
    page.click(".password-form button[type=submit]")


def test_change_log_out_and_log_in_with_the_new_password(page, live_server, committed_user):
    _log_in(page, live_server, FIRST)
    # The map's header: the user name leads to the password change.
    account = page.locator("header.gis-header a.gis-account")
    account.wait_for(timeout=30_000)
    assert account.get_attribute("title") == "Смена пароля"
    assert not page.locator(".gis-account-icon").is_visible()  # the phones' icon, not here
    account.click()
    page.wait_for_selector("h1:text('Смена пароля')")
    # A wrong current password: the form again, with the reason.
    _change(page, "not-my-password", SECOND)
    page.wait_for_selector("p.error:text('Текущий пароль неверен')")
    _change(page, FIRST, SECOND)
    page.wait_for_selector("p.notice:text('Пароль изменён')")
    page.click(".account-nav button[type=submit]")  # log out
    page.wait_for_selector("form[action='/login']")
    _log_in(page, live_server, FIRST)
    page.wait_for_selector("p.error:text('Неверное имя пользователя или пароль')")
    _log_in(page, live_server, SECOND)
    page.locator("header.gis-header a.gis-account").wait_for(timeout=30_000)
    assert page.problems == []


def test_admin_set_password_is_changed_at_the_next_login(page, live_server, committed_user, engine):
    with Session(engine) as session, session.begin():
        set_password(session, USERNAME, SECOND, SECOND, "admin")
    _log_in(page, live_server, SECOND)
    # Not the map: the change page, saying why; any other page leads back to it.
    page.wait_for_selector("p.notice:text('Администратор задал вам пароль')")
    assert "/account/password" in page.url
    page.goto(f"{live_server}/")
    page.wait_for_selector("p.notice:text('Администратор задал вам пароль')")
    assert page.url.endswith("/account/password?next=/")
    _change(page, SECOND, THIRD)
    # Changed: on to the page first asked for, the oblast map.
    page.locator("header.gis-header a.gis-account").wait_for(timeout=30_000)
    assert page.problems == []
