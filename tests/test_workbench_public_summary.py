"""A dispatcher writes, on the incident's card, the words the public sees of it (Open311 reads
without a key), in a real headless Chromium; the caller's own words stay private."""

from __future__ import annotations

import json
import urllib.request

from sqlalchemy import create_engine, text
from test_workbench import Session_

from gis_app import config


def test_the_dispatcher_approves_a_public_summary_on_the_card(chromium, live_server, postgis_url):
    engine = create_engine(config.sqlalchemy_url(postgis_url))
    with engine.connect() as conn:
        incident_id, description = conn.execute(
            text(
                "SELECT i.id, i.description FROM incidents i JOIN municipalities m"
                " ON m.id = i.municipality_id WHERE m.slug = 'gatchina'"
                " AND i.status IN ('new', 'assigned', 'accepted') ORDER BY i.id LIMIT 1"
            )
        ).one()

    def public_description() -> str:
        url = f"{live_server}/open311/v2/requests/{incident_id}.json"
        with urllib.request.urlopen(url) as answer:
            return json.load(answer)[0]["description"]

    assert public_description() != description  # the caller's words are never public
    dispatcher = Session_(chromium, live_server, "dispatcher-gatchina")
    page = dispatcher.page
    try:
        page.evaluate(f"() => gisWorkbench.showIncident({incident_id})")
        box = page.locator("#gis-card form.gis-public-summary textarea")
        box.wait_for(timeout=15_000)
        assert "Для жителей" in page.locator("#gis-card form.gis-public-summary").inner_text()
        summary = "Порыв водопровода, ремонтная бригада выехала"
        box.fill(summary)
        version = page.locator("#gis-card").get_attribute("data-version")
        page.locator("#gis-card form.gis-public-summary button[type=submit]").click()
        # Saved: the card is drawn again from the answer, at the incident's next version.
        page.wait_for_function(
            "v => document.querySelector('#gis-card').dataset.version !== v",
            arg=version,
            timeout=15_000,
        )
        assert box.input_value() == summary
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT public_summary FROM incidents WHERE id = :id"), {"id": incident_id}
            ).scalar_one()
        assert stored == summary
        assert public_description() == summary
        assert dispatcher.problems == [], dispatcher.problems
    finally:
        dispatcher.context.close()
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE incidents SET public_summary = NULL WHERE id = :id"),
                {"id": incident_id},
            )
        engine.dispose()
