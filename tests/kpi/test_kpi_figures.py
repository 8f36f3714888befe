"""KPI figures against a hand-made history with known answers, and against the same figures
computed from the events in Python (tests/kpi/history.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gis_app.accounts.identity import Identity
from gis_app.kpi.periods import parse_period
from gis_app.kpi.report import Query, kpi_incidents, kpi_report
from kpi.history import NOW, python_figures

ADMIN = Identity(1, "admin", "admin")
MARCH = parse_period("2021-03")


def by_key(report: dict) -> dict[str, dict]:
    return {r["key"]: r for r in report["rows"]}


def letters(report: dict, operators: dict[str, int]) -> dict[str, dict]:
    rows = by_key(report)
    return {letter: rows[str(op)] for letter, op in operators.items() if str(op) in rows}


def test_known_answers_per_operator(session, operators, made):
    rep = kpi_report(session, ADMIN, Query("operator", MARCH), NOW)
    a, b = letters(rep, operators)["A"], letters(rep, operators)["B"]
    # A: I1, I2, I3 (crosses into April) and I7 (March in Moscow time, February in UTC).
    assert (a["received"], a["accepted"], a["accepted_within_limit"]) == (4, 3, 2)
    assert (a["accept_median_min"], a["accept_p90_min"]) == (40.0, 80.0)
    assert (a["resolved"], a["resolved_within_limit"]) == (3, 2)
    assert (a["resolve_median_min"], a["resolve_p90_min"]) == (180.0, 324.0)
    assert (a["accept_decided"], a["resolve_decided"], a["overdue_now"]) == (4, 4, 1)
    assert (a["share_accepted_within_limit"], a["share_resolved_within_limit"]) == (0.5, 0.5)
    assert (a["consumers_cut_off"], a["social_objects_cut_off"], a["cut_off"]) == (110, 2, 2)
    # I1: 100 consumers × 3 h; I7: 10 consumers from 28 Feb 23:00 UTC to NOW (15 Apr 00:00 UTC).
    assert a["consumer_hours"] == 300 + 10 * (45 * 24 + 1)
    assert (a["reopened"], a["duplicates_merged"]) == (0, 0)
    # B: I4 (reopened; final fix after 2 days), I6 (300 of its 360 min waiting on the planned
    # outage), I9 (closed as a false alarm); I5 merged into I4.
    assert (b["received"], b["duplicates_merged"], b["reopened"]) == (3, 1, 1)
    assert (b["accepted"], b["accepted_within_limit"], b["accept_median_min"]) == (2, 2, 15.0)
    assert (b["resolved"], b["resolved_within_limit"]) == (2, 1)
    assert (b["resolve_median_min"], b["resolve_p90_min"]) == (1470.0, 2598.0)
    assert (b["resolve_decided"], b["overdue_now"]) == (2, 0)
    assert rep["total"]["received"] == 7 and rep["total"]["duplicates_merged"] == 1


def test_figures_match_python_from_events(session, operators, made):
    for label in ("2021-03", "2021", "2021-04", "2021-03-10..2021-03-15"):
        period = parse_period(label)
        expected = python_figures(made, period.start, period.end)
        got = letters(kpi_report(session, ADMIN, Query("operator", period), NOW), operators)
        assert set(got) == set(expected), label
        for letter, figures in expected.items():
            for name, value in figures.items():
                assert got[letter][name] == pytest.approx(value, abs=0.05), (label, letter, name)
            for name in ("received", "accepted", "resolved", "overdue_now", "duplicates_merged"):
                assert got[letter][name] == figures.get(name, 0), (label, letter, name)


def test_trigger_facts_equal_the_events_view(session, made):
    columns = (
        "incident_id, operator_id, municipality_id, received_at, clock_start, assigned_at,"
        " accepted_at, resolved_at, closed_at, status, reopens, is_duplicate, accept_limit_min,"
        " resolve_limit_min, accept_s, resolve_s, waiting_s, consumers, social_objects, rating"
    )
    table = session.execute(text(f"SELECT {columns} FROM incident_kpi_facts ORDER BY 1")).all()
    view = session.execute(text(f"SELECT {columns} FROM kpi_facts_from_events ORDER BY 1")).all()
    assert table == view and len(table) >= len(made)
    for source in ("facts", "events"):
        rep = kpi_report(session, ADMIN, Query("operator", MARCH, source=source), NOW)
        assert rep["total"]["received"] == 7


def test_period_is_moscow_time(session, operators, made):
    # I7 was received on 28 February 23:00 UTC = 1 March 02:00 in Moscow.
    feb = kpi_report(session, ADMIN, Query("operator", parse_period("2021-02")), NOW)
    assert feb["rows"] == [] and feb["total"]["received"] == 0
    year = letters(
        kpi_report(session, ADMIN, Query("operator", parse_period("2021")), NOW), operators
    )
    assert year["A"]["received"] == 5  # I8 (April) too


def test_rollup_through_the_municipality_tree(session, made):
    ids = dict(session.execute(text("SELECT slug, id::text FROM municipalities")).all())
    oblast = by_key(kpi_report(session, ADMIN, Query("municipality", MARCH), NOW))
    # Settlements roll up into their district/okrug; the okrug without settlements stands alone.
    assert oblast[ids["gatchinsky"]]["received"] == 3  # I1, I2, I7 in Gatchina town
    assert oblast[ids["gatchinsky"]]["duplicates_merged"] == 1  # I5
    assert oblast[ids["kirishsky"]]["received"] == 3  # I3, I4, I9 in Kirishi town
    assert oblast[ids["sosnovy-bor"]]["received"] == 1
    assert ids["gatchina"] not in oblast
    district = kpi_report(
        session, ADMIN, Query("municipality", MARCH, municipality_id=int(ids["gatchinsky"])), NOW
    )
    assert [(r["key"], r["received"]) for r in district["rows"]] == [(ids["gatchina"], 3)]
    ops = kpi_report(
        session, ADMIN, Query("operator", MARCH, municipality_id=int(ids["kirishsky"])), NOW
    )
    assert ops["total"]["received"] == 3


def test_roles_see_their_own(session, operators, made):
    gatchina = tuple(
        session.execute(
            text("SELECT id FROM municipalities WHERE slug IN ('gatchinsky', 'gatchina')")
        ).scalars()
    )
    dispatcher = Identity(3, "d", "dispatcher", None, gatchina)
    seen = letters(kpi_report(session, dispatcher, Query("operator", MARCH), NOW), operators)
    assert seen["A"]["received"] == 3 and seen["B"]["received"] == 0
    assert seen["B"]["duplicates_merged"] == 1
    staff = Identity(4, "o", "operator", operators["B"])
    rep = kpi_report(session, staff, Query("operator", MARCH), NOW)
    assert [r["key"] for r in rep["rows"]] == [str(operators["B"])]


def test_each_figure_lists_the_incidents_behind_it(session, operators, made):
    rep = letters(kpi_report(session, ADMIN, Query("operator", MARCH), NOW), operators)
    key = str(operators["A"])
    for figure in ("received", "accepted_within_limit", "resolved_within_limit", "overdue_now"):
        listed = kpi_incidents(session, ADMIN, Query("operator", MARCH), key, figure, NOW)
        assert listed["numberMatched"] == rep["A"][figure]
    within = kpi_incidents(
        session, ADMIN, Query("operator", MARCH), key, "resolved_within_limit", NOW
    )
    assert sorted(i["id"] for i in within["incidents"]) == sorted([made["I1"].id, made["I3"].id])
    b = kpi_incidents(
        session, ADMIN, Query("operator", MARCH), str(operators["B"]), "resolved", NOW
    )
    i6 = next(i for i in b["incidents"] if i["id"] == made["I6"].id)
    assert (i6["resolve_min"], i6["waiting_on_outage_min"]) == (60.0, 300.0)
