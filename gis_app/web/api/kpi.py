"""KPIs: `GET /api/kpi` (JSON or CSV) and the incidents behind any figure, `GET /api/kpi/incidents`."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from urllib.parse import quote

from flask import Response, current_app, request, url_for

from gis_app.db import get_session
from gis_app.errors import InvalidParameter
from gis_app.incidents import validate as v
from gis_app.kpi import assets, report, summaries
from gis_app.kpi.periods import parse_period
from gis_app.web.access import current_identity
from gis_app.web.api import api
from gis_app.web.params import parse_int


def _query() -> report.Query:
    session = get_session()
    return report.Query(
        group=request.args.get("group", "operator"),
        period=parse_period(request.args.get("period")),
        municipality_id=report.municipality_param(session, request.args.get("municipality")),
        source=request.args.get("source", "facts"),
    )


@api.get("/kpi")
def kpi():
    """Figures per operator|utility|municipality|week for a period; format=csv for a table."""
    q = _query()
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidParameter("format must be json or csv", parameter="format", value=fmt)
    base = {k: v for k, v in request.args.items() if k in ("group", "period", "municipality")}
    base.setdefault("period", q.period.label)
    base.setdefault("group", q.group)

    # One url_for, then plain appends: a report of 200 operators has 2,000 links.
    prefix = url_for("api.kpi_incidents", **base)

    def link(key: str, figure: str) -> str:
        return f"{prefix}&key={quote(key)}&figure={figure}"

    now = datetime.now(timezone.utc)
    session, viewer = get_session(), current_identity()
    body = None
    if summaries.may_use(q, viewer):
        max_age = int(current_app.config["GIS_APP_KPI_MAX_AGE_S"])
        body = summaries.cached(session, q, now, max_age)
    if body is None:
        body = report.kpi_report(session, viewer, q, now)
    report.add_links(body, link)
    if fmt == "csv":
        name = f"kpi-{q.group}-{q.period.label}.csv".replace("..", "_")
        return Response(
            "\ufeff" + report.to_csv(body),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return body, 200, {"Cache-Control": "no-store"}


@api.get("/kpi/incidents")
def kpi_incidents():
    """The incidents behind one figure of one row (key=total for the total row)."""
    q = _query()
    key = request.args.get("key", "total")
    figure = request.args.get("figure", "received")
    limit = parse_int(request.args.get("limit"), "limit", report.MAX_INCIDENTS, 1, 50000)
    now = datetime.now(timezone.utc)
    body = report.kpi_incidents(get_session(), current_identity(), q, key, figure, now, limit)
    for item in body["incidents"]:
        item["url"] = url_for("api.incident_detail", incident_id=item["id"])
    return body, 200, {"Cache-Control": "no-store"}


@api.get("/kpi/assets")
def kpi_assets():
    """Failures per feature and per 100 km by material|diameter|age|layer of one utility's
    network, for the period (format=csv for a table)."""
    session = get_session()
    period = parse_period(request.args.get("period"))
    utility = v.utility(session, request.args.get("utility"))
    by = request.args.get("by", "material")
    rows = assets.failures_by_class(session, current_identity(), period, utility, by)
    if request.args.get("format") == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["class"])
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            "\ufeff" + buf.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="failures-{utility}-{by}.csv"'},
        )
    return {"utility": utility, "by": by, "period": period.label, "rows": rows}


@api.get("/kpi/assets.geojson")
def kpi_assets_geojson():
    """The features that failed most in the period (a map layer), with their failure counts."""
    session = get_session()
    period = parse_period(request.args.get("period"))
    raw = request.args.get("utility")
    utility = v.utility(session, raw) if raw else None
    limit = parse_int(request.args.get("limit"), "limit", 100, 1, 5000)
    fc = assets.most_failed(session, current_identity(), period, utility, limit)
    return fc, 200, {"Content-Type": "application/geo+json", "Cache-Control": "no-store"}
