"""Who is asking, and may they: the one place where every request is authenticated.

A request is authenticated by an API token (programs: 'Bearer <token>', or HTTP Basic with the
user name and the token as the password, for GIS clients) or by the session cookie of the login
page (people). Every endpoint needs an identity except those marked public (the login page, the
assets and public metadata). Views then ask `current_identity()` or `require_role(...)`.
Session-authenticated writes must carry the session's CSRF token in X-CSRF-Token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from collections.abc import Callable

from flask import Flask, current_app, g, redirect, request, session, url_for

from gis_app.accounts.identity import ROLES, Identity, require_operator
from gis_app.errors import Forbidden, Unauthorized

__all__ = ["ROLES", "Identity", "csrf_token", "current_identity", "public", "require_operator",
           "require_role"]  # fmt: skip

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Endpoints anyone may call: assets, the login page, and metadata that reveals no network.
PUBLIC_ENDPOINTS = {"static", "vendor.asset", "auth.login", "auth.logout"}
# All a login whose password an admin set may reach until it is changed (docs/accounts.md).
PASSWORD_CHANGE_ENDPOINTS = {"auth.password_page", "auth.change_password", "auth.me"}


def public(view: Callable) -> Callable:
    """Mark a view as open without login (public metadata only)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    """Authenticate every request before its view runs."""
    app.before_request(_authenticate)


def _is_public() -> bool:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "is_public", False))


def _wants_page() -> bool:
    if request.path.startswith(("/api/", "/ogc", "/tiles", "/open311", "/export")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _credentials(header: str) -> tuple[str | None, str]:
    """(user name or None, API token) of an Authorization header: 'Bearer <token>', or 'Basic'
    with the user name and an API token as the password, for clients whose connection dialogs
    offer only a user and a password (QGIS's WFS/OGC API connections, GDAL's USERPWD, OWSLib).
    Account passwords are not accepted here: they go through the login form and its limits."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return None, value
    if scheme.lower() == "basic" and value:
        try:
            username, sep, token = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username, sep, token = "", "", ""
        if sep and username and token:
            return username, token
        raise Unauthorized(
            "Basic authorization must carry 'user name:API token' in base64.", code="invalid_token"
        )
    raise Unauthorized(
        "Authorization must be 'Bearer <token>' or 'Basic' with the user name and an API token.",
        code="invalid_token",
    )


# Identities looked up recently, per app: (monotonic expiry, identity) by token digest or user id.
# A map draws dozens of tiles a second per user; each would otherwise cost a database round
# trip just to learn who is asking again.
_CACHE_KEY = "gis_app_identities"
_CACHE_MAX = 10_000


def _remembered(key: tuple, load: Callable[[], Identity | None]) -> Identity | None:
    """The identity of `key` from the cache (GIS_APP_AUTH_CACHE_S), or loaded and remembered."""
    ttl = float(current_app.config["GIS_APP_AUTH_CACHE_S"])
    if ttl <= 0:
        return load()
    cache = current_app.extensions.setdefault(_CACHE_KEY, {})
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    identity = load()
    if identity is not None:  # unknown credentials are asked again every time
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = (now + ttl, identity)
    return identity


def forget_identities() -> None:
    """Drop this worker's remembered identities (after a token is revoked here; other workers
    forget theirs within GIS_APP_AUTH_CACHE_S)."""
    current_app.extensions.pop(_CACHE_KEY, None)


def _authenticate():
    from gis_app.accounts.users import identity_for_token, identity_for_user
    from gis_app.db import get_session

    if request.endpoint is None:  # no such route: the 404 handler answers
        return None
    header = request.headers.get("Authorization", "")
    identity, by_session = None, False
    if header:
        username, token = _credentials(header)
        digest = hashlib.sha256(token.encode()).hexdigest()
        identity = _remembered(("token", digest), lambda: identity_for_token(get_session(), token))
        if identity is None:
            raise Unauthorized(
                "The API token is unknown, expired or revoked.", code="invalid_token"
            )
        if username is not None and username.casefold() != identity.username.casefold():
            raise Unauthorized(
                "The API token belongs to another user than the one named.", code="invalid_token"
            )
    elif "user_id" in session:
        # A cookie from before logout (or a password change) carries an old version: refused.
        user_id, version = session["user_id"], session.get("sv", -1)
        identity = _remembered(
            ("user", user_id, version),
            lambda: identity_for_user(get_session(), user_id, version),
        )
        by_session = identity is not None
        if identity is None:
            session.clear()
    g.identity = identity
    if _is_public():
        return None
    if identity is None:
        if _wants_page():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        raise Unauthorized("Log in or send 'Authorization: Bearer <token>'.")
    if by_session and request.method not in SAFE_METHODS:
        # A cookie is sent by the browser whatever page asks; the token proves it is ours.
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if not secrets.compare_digest(sent, session.get("csrf", "")):
            raise Forbidden(
                "Missing or wrong X-CSRF-Token for a session-authenticated write.",
                code="csrf_failed",
            )
    if identity.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        if _wants_page():
            return redirect(url_for("auth.password_page", next=request.full_path.rstrip("?")))
        raise Forbidden(
            "Your password was set by an admin: change it first (POST /api/account/password).",
            code="password_change_required",
        )
    return None


def current_identity() -> Identity:
    """The identity of this request; 401 when nobody is logged in (only public views see that)."""
    identity = g.get("identity")
    if identity is None:
        raise Unauthorized("Log in or send 'Authorization: Bearer <token>'.")
    return identity


def require_role(*roles: str) -> Identity:
    """The identity of this request if its role is one of `roles`; else 403 naming them."""
    identity = current_identity()
    if identity.role not in roles:
        raise Forbidden(
            f"This needs the role {' or '.join(roles)}; you are {identity.role}.",
            required_roles=list(roles),
            role=identity.role,
        )
    return identity


def csrf_token() -> str:
    """The session's CSRF token (made at login), for pages that write through the API."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]
