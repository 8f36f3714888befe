"""The admin's page of the rules (/admin/rules): deadline rules and the escalation ladder in
force, each with its legal source; add or retire one (through /api/deadline-rules and
/api/escalation-rules). Russian first (?lang=en)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from gis_app.db import get_session
from gis_app.incidents import deadlines, rules
from gis_app.web.access import csrf_token, require_role

bp = Blueprint("rules_page", __name__)

STRINGS = {
    "ru": {
        "title": "Правила: сроки и эскалация",
        "deadlines": "Сроки (минуты)",
        "ladder": "Лестница эскалации",
        "utility": "Ресурс",
        "kind": "Вид",
        "priority": "Приоритет",
        "dead_end": "Тупиковый участок",
        "accept": "Принять",
        "resolve": "Устранить",
        "triage": "Разобрать",
        "source": "Правовое основание",
        "level": "Уровень",
        "target": "Кому",
        "after": "Через (мин) после срока",
        "any": "любой",
        "add": "Добавить (заменяет правило с теми же условиями)",
        "retire": "Отменить",
        "note": "Изменение применяется к инцидентам, созданным после него.",
        "other": "English",
    },
    "en": {
        "title": "Rules: deadlines and escalation",
        "deadlines": "Deadlines (minutes)",
        "ladder": "Escalation ladder",
        "utility": "Utility",
        "kind": "Kind",
        "priority": "Priority",
        "dead_end": "Dead-end main",
        "accept": "Accept",
        "resolve": "Resolve",
        "triage": "Triage",
        "source": "Legal source",
        "level": "Level",
        "target": "Who is told",
        "after": "Minutes after the deadline",
        "any": "any",
        "add": "Add (replaces the rule with the same conditions)",
        "retire": "Retire",
        "note": "A change applies to incidents created after it.",
        "other": "Русский",
    },
}


@bp.get("/admin/rules")
def rules_page():
    """The rules in force, with forms to add or retire one (admins)."""
    require_role("admin")
    lang = "en" if request.args.get("lang") == "en" else "ru"
    session = get_session()
    return render_template(
        "rules.html",
        s=STRINGS[lang],
        lang=lang,
        deadline_rules=deadlines.list_rules(session),
        ladder=rules.list_escalation_rules(session),
        csrf=csrf_token(),
    )
