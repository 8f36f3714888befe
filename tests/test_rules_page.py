"""The admin's rules page in Chromium (offline): add a ladder step with its legal source, see it
in force, retire it; other roles are refused."""

from __future__ import annotations

from helpers import assert_error


def test_admin_adds_and_retires_a_ladder_step(browser, live_server):
    context = browser.new_context(locale="ru-RU")
    outside: list[str] = []
    context.route(
        "**/*",
        lambda r: (
            r.continue_()
            if r.request.url.startswith(live_server)
            else (outside.append(r.request.url), r.abort())
        ),
    )
    page = context.new_page()
    page.goto(f"{live_server}/login?next=/admin/rules")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    assert "ПП 354" in page.locator("#deadline-rules").inner_text()  # each rule's source
    form = page.locator("#escalation-form")
    form.locator("input[name=level]").fill("2")
    form.locator("input[name=utility]").fill("heat")
    form.locator("input[name=priority]").fill("1")
    form.locator("input[name=after_minutes]").fill("15")
    form.locator("input[name=source]").fill("регламент ЦУР (тест)")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    row = page.locator("#escalation-rules tr", has_text="регламент ЦУР (тест)")
    assert row.count() == 1 and "15" in row.inner_text()
    with page.expect_navigation():
        row.locator("button[data-retire]").click()
    assert page.locator("#escalation-rules tr", has_text="регламент ЦУР (тест)").count() == 0
    assert outside == []
    context.close()


def test_only_admins_see_the_rules_page(client_as):
    assert_error(client_as("dispatcher").get("/admin/rules"), 403, "forbidden")
    assert client_as("admin").get("/admin/rules").status_code == 200
