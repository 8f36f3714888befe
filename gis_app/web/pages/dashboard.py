"""The accountability dashboard (/dashboard): operators ranked by time to resolve and share within
limits, weekly trends, overdue and density by municipality, drill-down oblast → district →
operator → incidents. Russian first (?lang=en); the browser draws it from /api/kpi with Chart.js
served by the app (no CDN); printable (@media print)."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from gis_app.web.access import current_identity

bp = Blueprint("dashboard", __name__)

STRINGS = {
    "ru": {
        "title": "Показатели работы организаций",
        "sub": "Ситуационный центр · Ленинградская область",
        "period": "Период",
        "show": "Показать",
        "print": "Печать",
        "map": "Карта",
        "operators": "Организации: время устранения и доля в срок",
        "operator": "Организация",
        "received": "Поступило",
        "accept_median": "Принятие, медиана (мин)",
        "resolve_median": "Устранение, медиана (мин)",
        "resolve_p90": "Устранение, 90-й перцентиль (мин)",
        "share_accept": "Принято в срок",
        "share_resolve": "Устранено в срок",
        "overdue": "Просрочено сейчас",
        "reopened": "Открыто повторно",
        "duplicates": "Повторов объединено",
        "consumer_hours": "Потребителе-часы",
        "rating": "Оценка заявителей",
        "trend": "По неделям",
        "municipalities": "Муниципальные образования: просрочено и плотность",
        "municipality": "Муниципальное образование",
        "density": "Инцидентов на 100 км²",
        "incidents": "Инциденты",
        "all": "Вся область",
        "up": "↑ выше",
        "total": "Итого",
        "no_data": "Нет данных за период",
        "other": "English",
        "id": "№",
        "status": "Статус",
        "received_at": "Поступил",
        "accept_min": "Принят за (мин)",
        "resolve_min": "Устранён за (мин)",
        "limit": "Норматив (мин)",
    },
    "en": {
        "title": "Utilities' performance",
        "sub": "Control centre · Leningrad Oblast",
        "period": "Period",
        "show": "Show",
        "print": "Print",
        "map": "Map",
        "operators": "Operators: time to resolve and share within limits",
        "operator": "Operator",
        "received": "Received",
        "accept_median": "Accept, median (min)",
        "resolve_median": "Resolve, median (min)",
        "resolve_p90": "Resolve, 90th percentile (min)",
        "share_accept": "Accepted in time",
        "share_resolve": "Resolved in time",
        "overdue": "Overdue now",
        "reopened": "Reopened",
        "duplicates": "Duplicates merged",
        "consumer_hours": "Consumer-hours",
        "rating": "Reporters' rating",
        "trend": "By week",
        "municipalities": "Municipalities: overdue and density",
        "municipality": "Municipality",
        "density": "Incidents per 100 km²",
        "incidents": "Incidents",
        "all": "Whole oblast",
        "up": "↑ up",
        "total": "Total",
        "no_data": "No data for the period",
        "other": "Русский",
        "id": "No.",
        "status": "Status",
        "received_at": "Received",
        "accept_min": "Accepted in (min)",
        "resolve_min": "Resolved in (min)",
        "limit": "Limit (min)",
    },
}


@bp.get("/dashboard")
def dashboard():
    """The dashboard page; its data comes from /api/kpi in the browser."""
    identity = current_identity()
    lang = "en" if request.args.get("lang") == "en" else "ru"
    config = {
        "lang": lang,
        "kpi": url_for("api.kpi"),
        "municipalities": url_for("api.municipalities", simplify=200),
        "period": request.args.get("period", ""),
        "municipality": request.args.get("municipality", ""),
        "role": identity.role,
        "strings": STRINGS[lang],
    }
    return render_template("dashboard.html", s=STRINGS[lang], lang=lang, config=config)
