"""The set-up pages (Russian first, ?lang=en): the operators and the municipal units of the oblast
for every role; for admins a form to add an operator and one to import a boundary file, calling
the same domain functions as POST /api/admin/operators and POST /api/municipalities/import."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.municipalities import MunicipalityImport, import_municipalities
from gis_app.municipalities.prepare import Fields
from gis_app.operators import admin
from gis_app.places.municipalities import municipality_list
from gis_app.utilities import list_utilities
from gis_app.web.access import csrf_token, current_identity, require_role
from gis_app.web.uploads import flag, saved_upload

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


UNIT_STRINGS = {
    "ru": {"title": "Муниципальные образования", "kind": "Вид", "name": "Наименование",
           "parent": "Входит в", "import": "Загрузить границы из файла",
           "file": "Файл (GeoJSON, GeoPackage, Shapefile в zip)", "name_field": "Поле названия",
           "oktmo_field": "Поле ОКТМО", "fixed_kind": "Вид, если файл не говорит",
           "replace": "Заменить (вывести из действия не вошедшие в файл)",
           "oblast": "Контур области — объединение районов", "dry_run": "Только проверить",
           "send": "Загрузить", "report": "Итог", "other_lang": "English", "map": "Карта"},
    "en": {"title": "Municipalities", "kind": "Kind", "name": "Name", "parent": "Part of",
           "import": "Load boundaries from a file",
           "file": "File (GeoJSON, GeoPackage, zipped Shapefile)", "name_field": "Name field",
           "oktmo_field": "OKTMO field", "fixed_kind": "Kind where the file does not say",
           "replace": "Replace (retire units not in the file)",
           "oblast": "The oblast's outline is the union of its districts",
           "dry_run": "Check only", "send": "Load", "report": "Result",
           "other_lang": "Русский", "map": "Map"},
}  # fmt: skip


def _units_page(lang: str, report=None, error=None, status=200):
    return render_template(
        "admin_municipalities.html", s=UNIT_STRINGS[lang], lang=lang,
        units=municipality_list(get_session()), report=report, error=error, csrf=csrf_token(),
        can_import=current_identity().role == "admin",
    ), status  # fmt: skip


@admin_pages.get("/admin/municipalities")
def municipalities_page():
    """The active municipal units (every role reads them) and, for admins, the import form."""
    return _units_page("en" if request.args.get("lang") == "en" else "ru")


@admin_pages.post("/admin/municipalities")
def municipalities_import_page():
    """Import a boundary file from the form (all or nothing); the page with the report."""
    who = require_role("admin")
    lang = "en" if request.args.get("lang") == "en" else "ru"
    form = request.form
    session = get_session()
    try:
        with saved_upload("gis-munis-") as (path, file_name):
            req = MunicipalityImport(
                path=path, fields=Fields(form.get("name_field") or None, form.get("oktmo_field")
                                         or None, None, form.get("kind") or None),
                mode="replace" if flag("replace") else "upsert", dry_run=flag("dry_run"),
                oblast_from_units=flag("oblast_from_units"), file_name=file_name,
                username=who.username, user_id=who.user_id,
            )  # fmt: skip
            report = import_municipalities(session, req)
    except AppError as exc:
        session.rollback()
        return _units_page(lang, report=exc.details, error=exc.message, status=exc.status)
    if req.dry_run:
        session.rollback()
    else:
        session.commit()
    return _units_page(lang, report=report)
