"""KPI summaries: a stored report equals the live one, is marked stale by the trigger in the
same transaction as an event of its period, and is served only where it answers the question."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from gis_app.accounts.identity import Identity
from gis_app.kpi import summaries
from gis_app.kpi.periods import parse_period
from gis_app.kpi.report import Query, kpi_report
from kpi.history import NOW

ADMIN = Identity(1, "admin", "admin")
MARCH = Query("operator", parse_period("2021-03"))


def stale(session, period: str) -> set[bool]:
    return set(
        session.execute(
            text("SELECT stale FROM kpi_summaries WHERE period = :p"), {"p": period}
        ).scalars()
    )


def test_summary_equals_the_live_report_and_goes_stale(session, made):
    made_n = summaries.refresh_stale(session, NOW, everything=True)
    assert made_n >= 4 * 3  # four groupings × (2021, 2021-03, 2021-04, …)
    got = summaries.cached(session, MARCH, NOW, 60)
    live = kpi_report(session, ADMIN, MARCH, NOW)
    assert got["summary"]["stale"] is False
    assert got["rows"] == live["rows"] and got["total"] == live["total"]
    assert stale(session, "2021-03") == {False} and stale(session, "2021-04") == {False}
    # I2 is closed: an event of a March incident makes March (and 2021) stale, not April.
    session.execute(
        text(
            "INSERT INTO incident_events (incident_id, at, actor, action, from_status, to_status)"
            " VALUES (:i, :at, 't', 'close', 'resolved', 'closed')"
        ),
        {"i": made["I2"].id, "at": NOW},
    )
    assert stale(session, "2021-03") == {True} and stale(session, "2021") == {True}
    assert stale(session, "2021-04") == {False}
    computed = session.execute(
        text(
            "SELECT computed_at FROM kpi_summaries WHERE group_by = 'operator' AND period = '2021-03'"
        )
    ).scalar_one()
    assert summaries.cached(session, MARCH, computed + timedelta(seconds=30), 60) is not None
    assert summaries.cached(session, MARCH, computed + timedelta(seconds=61), 60) is None
    assert summaries.refresh_stale(session, NOW) >= 8  # March and 2021, four groupings each
    assert stale(session, "2021-03") == {False}


def test_api_serves_summaries_only_where_they_answer(session, client, client_as, made):
    summaries.refresh_stale(session, NOW, everything=True)
    session.flush()
    body = client.get("/api/kpi?group=operator&period=2021-03").get_json()
    assert body["summary"]["stale"] is False and body["total"]["received"] == 7
    assert body["rows"][0]["links"]["received"].startswith("/api/kpi/incidents?")
    scoped = client.get("/api/kpi?group=operator&period=2021-03&municipality=gatchinsky")
    assert "summary" not in scoped.get_json()
    span = client.get("/api/kpi?group=operator&period=2021-03-01..2021-03-31").get_json()
    assert "summary" not in span and span["total"]["received"] == 7
    mine = client_as("dispatcher-gatchina").get("/api/kpi?group=operator&period=2021-03")
    assert "summary" not in mine.get_json() and mine.get_json()["total"]["received"] == 3
    oblast = client_as("dispatcher").get("/api/kpi?group=operator&period=2021-03").get_json()
    assert "summary" in oblast


def test_the_command_makes_them(app, engine):
    """`gis-app kpi refresh` commits summaries (of the test database); removed afterwards."""
    from gis_app.cli.kpi import refresh_command

    try:
        result = app.test_cli_runner().invoke(refresh_command, [])
        assert result.exit_code == 0, result.output
        assert "KPI summaries made" in result.output
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM kpi_summaries")).scalar() >= 8
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM kpi_summaries"))
