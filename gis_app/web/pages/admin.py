"""The operators page (Russian first, ?lang=en): the operators of the oblast for every role, and
for admins a form to add one, which calls the same domain function as POST /api/admin/operators."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.operators import admin
from gis_app.utilities import list_utilities
from gis_app.web.access import csrf_token, current_identity, require_role

admin_pages = Blueprint("admin_pages", __name__)

STRINGS = {
    "ru": {"title": "Операторы", "slug": "Код", "name": "Наименование", "short": "Краткое",
           "inn": "ИНН", "phone": "Телефон АДС", "email": "E-mail АДС", "utilities": "Ресурсы",
           "municipalities": "Муниципальные образования (коды через запятую)",
           "retired": "выбыл", "add": "Добавить оператора", "save": "Сохранить",
           "created": "Оператор добавлен", "other_lang": "English", "map": "Карта"},
    "en": {"title": "Operators", "slug": "Slug", "name": "Full name", "short": "Short name",
           "inn": "INN", "phone": "Dispatch phone", "email": "Dispatch e-mail",
           "utilities": "Utilities", "municipalities": "Municipalities (slugs, comma-separated)",
           "retired": "retired", "add": "Add an operator", "save": "Save",
           "created": "Operator added", "other_lang": "Русский", "map": "Map"},
}  # fmt: skip


def _page(lang: str, message: str | None = None, error: str | None = None, form=None, status=200):
    can_add = current_identity().role == "admin"
    session = get_session()
    rows = [admin.operator_row(session, r) for r in admin.operator_ids(session)]
    return render_template(
        "admin_operators.html", s=STRINGS[lang], lang=lang, operators=rows,
        utilities=list_utilities(session), message=message, error=error, form=form or {},
        checked=form.getlist("utilities") if form is not None else [], csrf=csrf_token(),
        can_add=can_add,
    ), status  # fmt: skip


@admin_pages.get("/admin/operators")
def operators_page():
    """The operators (every role reads them) and, for admins, the form to add one."""
    return _page("en" if request.args.get("lang") == "en" else "ru")


@admin_pages.post("/admin/operators")
def operators_create():
    """Add an operator from the form; the page again, with the result or the error."""
    who = require_role("admin")
    lang = "en" if request.args.get("lang") == "en" else "ru"
    form = request.form
    body = {k: form.get(k, "") for k in ("slug", "full_name", "short_name", "inn",
                                         "dispatch_phone", "dispatch_email")}  # fmt: skip
    body = {k: v for k, v in body.items() if v.strip()}
    body["utilities"] = form.getlist("utilities")
    munis = [m.strip() for m in form.get("municipalities", "").split(",") if m.strip()]
    if munis:
        body["municipalities"] = munis
    session = get_session()
    try:
        created = admin.create_operator(session, who.username, who.user_id, body)
    except AppError as exc:
        session.rollback()
        return _page(lang, error=exc.message, form=form, status=exc.status)
    session.commit()
    return _page(lang, message=f"{STRINGS[lang]['created']}: {created['short_name']}")
