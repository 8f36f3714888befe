"""GET /api/kpi (JSON, CSV), the incidents behind a figure, errors and roles, over HTTP."""

from __future__ import annotations

import csv
import io

from helpers import assert_error


def test_json_and_links_to_the_incidents(client, operators, made):
    r = client.get("/api/kpi?group=operator&period=2021-03")
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert body["period"]["from"] == "2021-03-01T00:00:00+03:00"
    rows = {row["key"]: row for row in body["rows"]}
    a = rows[str(operators["A"])]
    assert a["received"] == 4 and a["resolved_within_limit"] == 2
    # A time is computed over the incidents of a count; that count's link lists them.
    assert body["figures"]["resolve_median_min"] == "resolved"
    assert set(a["links"]) >= {"received", "resolved", "overdue_now", "duplicates_merged"}
    listed = client.get(a["links"]["resolved_within_limit"]).get_json()
    assert listed["numberMatched"] == 2
    assert sorted(i["id"] for i in listed["incidents"]) == sorted([made["I1"].id, made["I3"].id])
    detail = client.get(listed["incidents"][0]["url"])
    assert detail.status_code == 200 and detail.get_json()["id"] == listed["incidents"][0]["id"]
    total = client.get(body["total"]["links"]["received"]).get_json()
    assert total["numberMatched"] == body["total"]["received"] == 7


def test_csv(client, operators, made):
    r = client.get("/api/kpi?group=operator&period=2021-03&format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    a = next(row for row in rows if row["operator"] == str(operators["A"]))
    assert a["received"] == "4" and a["resolve_median_min"] == "180.0"
    assert rows[-1]["operator"] == "total" and rows[-1]["received"] == "7"
    assert a["incidents_url"].startswith("/api/kpi/incidents?")


def test_municipality_group_and_filter(client, made):
    body = client.get("/api/kpi?group=municipality&period=2021-03").get_json()
    names = {row["name"]: row["received"] for row in body["rows"]}
    assert names["Гатчинский муниципальный округ"] == 3
    assert names["Киришский муниципальный район"] == 3
    scoped = client.get("/api/kpi?group=municipality&period=2021-03&municipality=gatchinsky")
    assert [r["received"] for r in scoped.get_json()["rows"]] == [3]


def test_operator_staff_see_their_organisation_only(client_as, operators, made):
    body = client_as("operator").get("/api/kpi?group=operator&period=2021-03").get_json()
    assert [r["key"] for r in body["rows"]] == [str(operators["A"])]
    assert body["total"]["received"] == 4


def test_bad_parameters(client, anon_client, client_as):
    assert_error(client.get("/api/kpi?period=2021-13"), 400, "invalid_period")
    assert_error(client.get("/api/kpi?period=2021-03-10..2021-03-01"), 400, "invalid_period")
    assert_error(client.get("/api/kpi?group=street"), 400, "invalid_group")
    assert_error(client.get("/api/kpi?municipality=atlantis"), 400, "unknown_municipality")
    assert_error(client.get("/api/kpi?format=xlsx"), 400, "invalid_parameter")
    assert_error(client.get("/api/kpi/incidents?figure=luck"), 400, "invalid_figure")
    assert_error(anon_client.get("/api/kpi"), 401, "unauthorized")
    assert_error(client_as("planner").get("/api/kpi?source=events"), 403, "forbidden")
