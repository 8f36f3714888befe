"""The admins' users page (/admin/users, Russian first, ?lang=en): who has an account, and a form
to set a user's password, which they must change at their next login (accounts/passwords.py)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from gis_app.accounts.passwords import MIN_PASSWORD, set_password
from gis_app.accounts.users import list_users
from gis_app.db import get_session
from gis_app.errors import AppError
from gis_app.web.access import csrf_token, forget_identities, require_role

account_pages = Blueprint("account_pages", __name__)

STRINGS = {
    "ru": {"title": "Пользователи", "username": "Имя пользователя", "full_name": "ФИО",
           "role": "Роль", "charge": "Организация / МО", "last_login": "Последний вход",
           "state": "Состояние", "disabled": "отключён", "must": "должен сменить пароль",
           "set": "Задать пароль пользователю", "password": "Новый пароль",
           "repeat": "Новый пароль ещё раз", "revoke": "Отозвать и его API-токены",
           "save": "Задать пароль", "map": "Карта", "other_lang": "English",
           "rules": f"Не короче {MIN_PASSWORD} символов. Сеансы пользователя будут завершены, при"
                    " следующем входе он должен будет сменить пароль.",
           "done": "Пароль задан; пользователь сменит его при следующем входе"},
    "en": {"title": "Users", "username": "User name", "full_name": "Full name", "role": "Role",
           "charge": "Operator / municipalities", "last_login": "Last login", "state": "State",
           "disabled": "disabled", "must": "must change password",
           "set": "Set a user's password", "password": "New password",
           "repeat": "New password again", "revoke": "Also revoke their API tokens",
           "save": "Set password", "map": "Map", "other_lang": "Русский",
           "rules": f"At least {MIN_PASSWORD} characters. The user's sessions are signed out and"
                    " they must change the password at their next login.",
           "done": "Password set; the user changes it at their next login"},
}  # fmt: skip


def _page(lang: str, message: str | None = None, error: str | None = None, status: int = 200):
    return render_template(
        "admin_users.html", s=STRINGS[lang], lang=lang, users=list_users(get_session()),
        message=message, error=error, csrf=csrf_token(), min_length=MIN_PASSWORD,
        chosen=request.form.get("username", ""),
    ), status  # fmt: skip


@account_pages.get("/admin/users")
def users_page():
    """The users and the form to set a password (admins only)."""
    require_role("admin")
    return _page("en" if request.args.get("lang") == "en" else "ru")


@account_pages.post("/admin/users/password")
def set_password_form():
    """Set the chosen user's password from the form; the page again, with the result or error."""
    who = require_role("admin")
    lang = "en" if request.args.get("lang") == "en" else "ru"
    form = request.form
    username = form.get("username", "")
    session = get_session()
    try:
        set_password(
            session, username, form.get("password", ""), form.get("password_repeat", ""),
            who.username, who.user_id, revoke_tokens=form.get("revoke_tokens") == "1",
        )  # fmt: skip
    except AppError as exc:
        session.rollback()
        return _page(lang, error=exc.message, status=exc.status)
    session.commit()
    forget_identities()  # this worker at once; others within GIS_APP_AUTH_CACHE_S
    return _page(lang, message=f"{STRINGS[lang]['done']}: {username}")
