"""Login and logout for people; /api/me and /api/tokens for the logged-in user."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from gis_app.accounts import login_limits, users
from gis_app.db import get_session, replica_ok, single_statements
from gis_app.errors import InvalidParameter, NotFound
from gis_app.web.access import csrf_token, current_identity, forget_identities
from gis_app.web.params import parse_int

bp = Blueprint("auth", __name__)
WRONG_PASSWORD = "Неверное имя пользователя или пароль / Wrong user name or password"


def _safe_next(target: str | None) -> str:
    # Only paths on this site: never an open redirect to another host.
    if (
        not target
        or urlsplit(target).netloc
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return url_for("maps.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form (Russian first); on success the session remembers the user."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
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
            csrf_token()
            return redirect(_safe_next(request.form.get("next")))
        if block is not None:
            error, status = block.message(), 429
            headers["Retry-After"] = str(block.retry_after_s)
        else:
            error, status = WRONG_PASSWORD, 401
    page = render_template("login.html", error=error, next=request.values.get("next", ""))
    return page, status, headers


@bp.post("/logout")
def logout():
    """Forget the session."""
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
