"""Login and logout for people; /api/me and /api/tokens for the logged-in user."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from gis_app.accounts import login_limits, users
from gis_app.db import get_session, replica_ok, single_statements
from gis_app.errors import Forbidden, InvalidParameter, NotFound
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
            return redirect(_safe_next(request.form.get("next")))
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
