"""Login and logout for people; the password change (page and API), /api/me and /api/tokens for
the logged-in user."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from gis_app.accounts import login_limits, passwords, users
from gis_app.db import get_session, replica_ok, single_statements
from gis_app.errors import AppError, Forbidden, InvalidParameter, NotFound
from gis_app.web.access import csrf_token, current_identity, forget_identities
from gis_app.web.params import parse_int

bp = Blueprint("auth", __name__)
WRONG_PASSWORD = "Неверное имя пользователя или пароль / Wrong user name or password"
FORM_EXPIRED = "Форма устарела, войдите ещё раз / The form expired, please log in again"


def _safe_next(target: str | None) -> str:
    # Only paths on this site: never an open redirect to another host.
    if (
        not target
        or urlsplit(target).netloc
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return url_for("maps.start")  # a dispatcher starts on their municipality
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form (Russian first); on success the session remembers the user."""
    error, status, headers = None, 200, {}
    if request.method == "POST" and not secrets.compare_digest(
        request.form.get("csrf_token", ""), session.get("login_csrf", "")
    ):
        # A login form of this site was not filled: another site posting a login (login CSRF,
        # which would log the victim into the attacker's account), or an expired form.
        error, status = FORM_EXPIRED, 403
    elif request.method == "POST":
        db = get_session()
        # User names are lower case (accounts/users.py USERNAME): "Planner", as phones type it, is planner.
        username = request.form.get("username", "").strip().lower()
        # Failures are counted per user name and address (login_limits); while blocked the
        # password is not even checked, so a right one is refused too.
        user_id, block = login_limits.checked_login(
            db,
            username,
            request.remote_addr or "",
            login_limits.Limits.from_config(current_app.config),
            lambda: users.check_password(db, username, request.form.get("password", "")),
        )
        if user_id is not None:
            session.clear()
            session["user_id"] = user_id
            session["sv"] = users.current_session_version(db, user_id)
            csrf_token()
            target = _safe_next(request.form.get("next"))
            identity = users.identity_for_user(db, user_id, session["sv"])
            if identity is not None and identity.must_change_password:
                # An admin set this password: the change page first, then where they were going.
                return redirect(url_for("auth.password_page", next=target))
            return redirect(target)
        if block is not None:
            error, status = block.message(), 429
            headers["Retry-After"] = str(block.retry_after_s)
        else:
            error, status = WRONG_PASSWORD, 401
    if "login_csrf" not in session:
        session["login_csrf"] = secrets.token_urlsafe(24)
    page = render_template(
        "login.html",
        error=error,
        next=request.values.get("next", ""),
        login_csrf=session["login_csrf"],
    )
    return page, status, headers


@bp.post("/logout")
def logout():
    """End the session on the server (every cookie of this login stops working), then forget it.

    Public, so an expired session still gets the login page; but a logged-in session must send
    its CSRF token, so another site cannot log a user out."""
    identity = g.get("identity")
    if identity is not None and "user_id" in session:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if not secrets.compare_digest(sent, session.get("csrf", "")):
            raise Forbidden("Missing or wrong CSRF token for logout.", code="csrf_failed")
        db = get_session()
        users.end_sessions(db, identity.user_id)
        db.commit()
        # This worker forgets at once; others within GIS_APP_AUTH_CACHE_S (docs/security.md).
        forget_identities()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/api/me")
def me():
    """Who the request is authenticated as."""
    identity = current_identity()
    return {
        "user_id": identity.user_id,
        "username": identity.username,
        "role": identity.role,
        "operator_id": identity.operator_id,
        "municipality_ids": identity.municipality_ids,
    }


@bp.get("/auth/check")
@replica_ok
@single_statements
def check():
    """204 when the request is authenticated (401 otherwise, from the access check): nginx's
    auth_request asks this before it serves a cached tile (deploy/nginx-gis-app.conf)."""
    current_identity()
    return "", 204, {"Cache-Control": "no-store"}


@bp.get("/api/tokens")
def my_tokens():
    """The caller's API tokens (never the secrets)."""
    return {"tokens": users.list_tokens(get_session(), current_identity().user_id)}


@bp.post("/api/tokens")
def new_token():
    """Make an API token for the caller; the answer is the only time it is shown."""
    identity = current_identity()
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    name = body.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        raise InvalidParameter("name must be text of at most 200 characters", parameter="name")
    days = parse_int(str(body.get("days", 365)), "days", 365, 1, 3650)
    db = get_session()
    token = users.create_token(db, identity.username, name=name, days=days)
    db.commit()
    return {"token": token, "name": name, "expires_in_days": days}, 201


@bp.delete("/api/tokens/<int:token_id>")
def delete_token(token_id: int):
    """Revoke one of the caller's tokens (admins: anyone's)."""
    identity = current_identity()
    db = get_session()
    owner = None if identity.role == "admin" else identity.user_id
    if not users.revoke_token(db, token_id, owner):
        raise NotFound(
            f"No active token {token_id} of yours.", code="token_not_found", token=token_id
        )
    db.commit()
    forget_identities()
    return "", 204


PASSWORD_STRINGS = {
    "ru": {"title": "Смена пароля", "current": "Текущий пароль", "new": "Новый пароль",
           "repeat": "Новый пароль ещё раз", "revoke": "Отозвать и все мои API-токены",
           "save": "Сменить пароль", "map": "Карта", "other_lang": "English", "logout": "Выйти",
           "rules": f"Не короче {passwords.MIN_PASSWORD} символов и не совпадает с именем"
                    " пользователя. Остальные ваши сеансы будут завершены.",
           "must": "Администратор задал вам пароль: смените его, чтобы продолжить работу.",
           "done": "Пароль изменён. Остальные ваши сеансы завершены.",
           "wrong_password": "Текущий пароль неверен.",
           "password_mismatch": "Новые пароли не совпадают.",
           "weak_password": f"Новый пароль не подходит: не короче {passwords.MIN_PASSWORD}"
                            " символов, не равен имени пользователя, текущему паролю и"
                            " демонстрационному паролю."},
    "en": {"title": "Change password", "current": "Current password", "new": "New password",
           "repeat": "New password again", "revoke": "Also revoke all my API tokens",
           "save": "Change password", "map": "Map", "other_lang": "Русский", "logout": "Log out",
           "rules": f"At least {passwords.MIN_PASSWORD} characters, not your user name."
                    " Your other sessions will be signed out.",
           "must": "An admin set your password: change it to go on.",
           "done": "Password changed. Your other sessions are signed out.",
           "wrong_password": "The current password is wrong.",
           "password_mismatch": "The new passwords differ.",
           "weak_password": f"The new password will not do: at least {passwords.MIN_PASSWORD}"
                            " characters, not your user name, the current password or the demo"
                            " password."},
}  # fmt: skip


def _change_password(change: passwords.PasswordChange) -> None:
    """Change the caller's password; this login goes on under the new session version."""
    identity = current_identity()
    db = get_session()
    version = passwords.change_own_password(
        db,
        identity.user_id,
        change,
        request.remote_addr or "",
        login_limits.Limits.from_config(current_app.config),
    )
    db.commit()
    if session.get("user_id") == identity.user_id:
        session["sv"] = version  # a new cookie: every other copy carries the old version
    forget_identities()  # this worker at once; others within GIS_APP_AUTH_CACHE_S


@bp.route("/account/password", methods=["GET", "POST"])
def password_page():
    """The «Смена пароля» form (Russian first, ?lang=en): current password, new one twice."""
    identity = current_identity()
    lang = "en" if request.args.get("lang") == "en" else "ru"
    s = PASSWORD_STRINGS[lang]
    notice, error, status, headers = None, None, 200, {}
    if identity.must_change_password:
        notice = s["must"]
    if request.method == "POST":  # the session's CSRF token was checked by web/access.py
        form = request.form
        try:
            _change_password(
                passwords.PasswordChange(
                    form.get("current_password", ""),
                    form.get("new_password", ""),
                    form.get("new_password_repeat", ""),
                    form.get("revoke_tokens") == "1",
                )
            )
        except AppError as exc:
            get_session().rollback()
            error, status = s.get(exc.code, exc.message), exc.status
            if isinstance(exc, passwords.TooManyAttempts):
                error = exc.message
                headers["Retry-After"] = str(exc.details["retry_after_s"])
        else:
            if form.get("next"):
                return redirect(_safe_next(form.get("next")))
            notice = s["done"]
    page = render_template(
        "account_password.html", s=s, lang=lang, username=identity.username, notice=notice,
        error=error, csrf=csrf_token(), next=request.values.get("next", ""),
        min_length=passwords.MIN_PASSWORD,
    )  # fmt: skip
    return page, status, headers


@bp.post("/api/account/password")
def change_password():
    """Change the caller's password: {"current_password", "new_password",
    "new_password_repeat", "revoke_tokens"}; the caller's other sessions are signed out."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.", code="invalid_body")
    revoke = body.get("revoke_tokens", False)
    if not isinstance(revoke, bool):
        raise InvalidParameter("revoke_tokens: true or false", parameter="revoke_tokens")
    _change_password(
        passwords.PasswordChange(
            body.get("current_password"),
            body.get("new_password"),
            body.get("new_password_repeat"),
            revoke,
        )
    )
    return {"changed": True, "other_sessions_ended": True, "tokens_revoked": revoke}
