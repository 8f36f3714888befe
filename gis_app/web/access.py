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
import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, redirect, request, session, url_for

from gis_app.accounts.credentials import Credentials
from gis_app.accounts.identity import ROLES, Identity, require_operator
from gis_app.errors import Forbidden, Unauthorized

__all__ = ["ROLES", "Identity", "authorization_credentials", "checks_credentials_itself",
           "confirm_credentials", "csrf_token", "current_identity", "pending_credentials", "public",
           "require_operator", "require_role"]  # fmt: skip

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


def authorization_credentials(header: str) -> tuple[str | None, str]:
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


def checks_credentials_itself(view: Callable) -> Callable:
    """Mark a view whose statement checks the request's credentials itself (a tile: the check,
    the revision and the tile in one round trip). Its request is not looked up before the view:
    the view passes `pending_credentials()` to its service and the answer's row to
    `confirm_credentials`. A view that ends or fails without confirming has them checked then,
    before anything is answered: an unknown layer still answers a bad token 401, as elsewhere."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        try:
            response = view(*args, **kwargs)
        except Exception as failure:
            try:
                _check_pending()
            except (Unauthorized, Forbidden):
                raise  # refused: the 401 (or 403) answers, not the view's failure
            except Exception:
                # The check could not run either (the connection was lost mid-view): the view's
                # own failure answers (a 503 with Retry-After), not the check's follow-on error.
                raise failure from None
            raise
        _check_pending()
        return response

    checked.checks_credentials = True  # type: ignore[attr-defined]
    return checked


@dataclass(frozen=True)
class _Pending:
    """Credentials of this request not yet checked (see checks_credentials_itself)."""

    credentials: Credentials
    username: str | None  # the user named beside a token (HTTP Basic)


def pending_credentials() -> Credentials | None:
    """This request's credentials when the view's statement must check them, else None
    (checked before the view already, or remembered: GIS_APP_AUTH_CACHE_S)."""
    pending = g.get("pending_credentials")
    return pending.credentials if pending is not None else None


def confirm_credentials(row: Any) -> None:
    """Accept the row of the view's credential check (Credentials.check_sql) or refuse with the
    401 the check before the view would have given; nothing to do when none was pending."""
    from gis_app.accounts.credentials import confirmed_identity
    from gis_app.db import get_session

    pending = g.pop("pending_credentials", None)
    if pending is not None:
        _accept(pending, confirmed_identity(get_session(), row))


def _check_pending() -> None:
    """Check credentials still pending the ordinary way (a view that did not confirm them)."""
    from gis_app.accounts.users import identity_for_token, identity_for_user
    from gis_app.db import get_session

    pending = g.pop("pending_credentials", None)
    if pending is None:
        return
    credentials = pending.credentials
    if credentials.token is not None:
        identity = identity_for_token(get_session(), credentials.token)
    else:
        identity = identity_for_user(
            get_session(), credentials.user_id, credentials.session_version
        )
    _accept(pending, identity)


def _accept(pending: _Pending, identity: Identity | None) -> None:
    """Set the request's identity from checked credentials, or refuse as _authenticate does."""
    if pending.credentials.token is not None:
        _check_token_identity(identity, pending.username)
    elif identity is None:
        session.clear()
        raise Unauthorized("Log in or send 'Authorization: Bearer <token>'.")
    g.identity = identity
    _refuse_before_password_change(identity)


def _check_token_identity(identity: Identity | None, username: str | None) -> None:
    if identity is None:
        raise Unauthorized("The API token is unknown, expired or revoked.", code="invalid_token")
    if username is not None and username.casefold() != identity.username.casefold():
        raise Unauthorized(
            "The API token belongs to another user than the one named.", code="invalid_token"
        )


def _cached(key: tuple) -> Identity | None:
    """The identity remembered under `key` (GIS_APP_AUTH_CACHE_S), if still fresh."""
    if float(current_app.config["GIS_APP_AUTH_CACHE_S"]) <= 0:
        return None
    hit = current_app.extensions.get(_CACHE_KEY, {}).get(key)
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def _deferred(key: tuple, credentials: Credentials, username: str | None = None) -> bool:
    """Leave the check to the view's statement when it does that (and nothing is remembered)."""
    view = current_app.view_functions.get(request.endpoint or "")
    # GET and HEAD only: Flask answers OPTIONS itself, without the view that would check them.
    if not getattr(view, "checks_credentials", False) or request.method not in ("GET", "HEAD"):
        return False
    if _is_public():
        return False
    if _cached(key) is not None:
        return False
    g.pending_credentials = _Pending(credentials, username)
    g.identity = None
    return True


def _authenticate():
    from gis_app.accounts.users import identity_for_token, identity_for_user
    from gis_app.db import get_session

    if request.endpoint is None:  # no such route: the 404 handler answers
        return None
    header = request.headers.get("Authorization", "")
    identity, by_session = None, False
    if header:
        username, token = authorization_credentials(header)
        key = ("token", hashlib.sha256(token.encode()).hexdigest())
        if _deferred(key, Credentials(token=token), username):
            return None
        identity = _remembered(key, lambda: identity_for_token(get_session(), token))
        _check_token_identity(identity, username)
    elif "user_id" in session:
        # A cookie from before logout (or a password change) carries an old version: refused.
        user_id, version = session["user_id"], session.get("sv", -1)
        key = ("user", user_id, version)
        if _deferred(key, Credentials(user_id=user_id, session_version=version)):
            return None
        identity = _remembered(key, lambda: identity_for_user(get_session(), user_id, version))
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
        _refuse_before_password_change(identity)
    return None


def _refuse_before_password_change(identity: Identity) -> None:
    """403 for a login whose password an admin set, until it is changed (pages: see above)."""
    if identity.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        raise Forbidden(
            "Your password was set by an admin: change it first (POST /api/account/password).",
            code="password_change_required",
        )


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
