"""Passwords: the one rule set for a new password, a user changing their own (the current one
checked under the login limits), and an admin setting one that must be changed at the next login.

A change ends the user's other sessions (users.session_version, checked by web/access.py with the
identity look-up), keeps or revokes their API tokens as asked, and is recorded in admin_changes
(never the password or its hash).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from gis_app.accounts import login_limits
from gis_app.changes import record_change
from gis_app.errors import AppError, Forbidden, InvalidParameter, NotFound

MIN_PASSWORD = 8
# scrypt hashes any length, but a megabyte "password" would be work for nothing.
MAX_PASSWORD = 256
# The demo accounts' shared password (README): only a demo account may have it.
DEMO_PASSWORD = "demo-2026"


class TooManyAttempts(AppError):
    """The user name or address is blocked by the login limits (429, with Retry-After)."""

    status = 429
    code = "too_many_attempts"


def check_new_password(
    username: str, password: object, *, is_demo: bool = False, field: str = "password"
) -> str:
    """The password if it may be set for this user; else InvalidParameter naming `field`."""
    if not isinstance(password, str) or not password:
        raise InvalidParameter(f"{field}: required, as text", parameter=field)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidParameter(
            f"{field}: at least {MIN_PASSWORD} characters (at most {MAX_PASSWORD})", parameter=field,
            code="weak_password", min_length=MIN_PASSWORD,
        )  # fmt: skip
    if "\x00" in password:
        raise InvalidParameter(f"{field}: no NUL characters", parameter=field)
    if password.strip().casefold() == username.strip().casefold():
        raise InvalidParameter(
            f"{field}: must not be the user name", parameter=field, code="weak_password"
        )
    if password == DEMO_PASSWORD and not is_demo:
        raise InvalidParameter(
            f"{field}: the demo accounts' published password is for demo accounts only",
            parameter=field, code="weak_password",
        )  # fmt: skip
    return password


@dataclass(frozen=True)
class PasswordChange:
    """What a user sends to change their own password (the form's or the JSON body's fields)."""

    current_password: object
    new_password: object
    new_password_repeat: object
    revoke_tokens: bool = False


def change_own_password(
    session: Session, user_id: int, change: PasswordChange, address: str,
    limits: login_limits.Limits,
) -> int:  # fmt: skip
    """Change the user's password after checking the current one; the new session version.

    The new password is checked first (no password hash is touched for a form that cannot
    succeed); the current one is then checked as a login is, counted per user name and address,
    so this form guesses no faster than the login form. Commits the attempt's record; the caller
    commits the change.
    """
    user = _user(session, user_id=user_id)
    if not isinstance(change.current_password, str) or not change.current_password:
        raise InvalidParameter("current_password: required", parameter="current_password")
    new = check_new_password(
        user["username"], change.new_password, is_demo=user["is_demo"], field="new_password"
    )
    _check_repeat(new, change.new_password_repeat, "new_password_repeat")
    if new == change.current_password:
        raise InvalidParameter(
            "new_password: the same as the current one", parameter="new_password",
            code="weak_password",
        )  # fmt: skip
    current = change.current_password
    matched, block = login_limits.checked_login(
        session, user["username"], address, limits,
        lambda: user_id if _matches(session, user_id, current) else None,
    )  # fmt: skip
    if block is not None:
        raise TooManyAttempts(block.message(), retry_after_s=block.retry_after_s)
    if matched is None:
        raise Forbidden(
            "current_password: wrong password", code="wrong_password", parameter="current_password"
        )
    version, revoked = _store(session, user_id, new, False, change.revoke_tokens)
    record_change(
        session, user["username"], user_id, "user", user["username"], "password_changed",
        None, {"tokens_revoked": revoked},
    )  # fmt: skip
    return version


def set_password(
    session: Session, username: str, password: object, repeat: object, by_username: str,
    by_user_id: int | None = None, revoke_tokens: bool = False,
) -> None:  # fmt: skip
    """An admin sets a user's password (typed twice): their sessions end and they must change it
    at the next login. The caller commits."""
    user = _user(session, username=username)
    new = check_new_password(username, password, is_demo=user["is_demo"])
    _check_repeat(new, repeat, "password_repeat")
    _, revoked = _store(session, user["id"], new, True, revoke_tokens)
    record_change(
        session, by_username, by_user_id, "user", username, "password_reset", None,
        {"must_change_password": True, "tokens_revoked": revoked},
    )  # fmt: skip


def _check_repeat(password: str, repeat: object, field: str) -> None:
    if repeat != password:
        raise InvalidParameter(
            f"{field}: the two passwords differ", parameter=field, code="password_mismatch"
        )


def _user(session: Session, user_id: int | None = None, username: str | None = None) -> dict:
    row = session.execute(
        text(
            "SELECT id, username, is_demo FROM users WHERE is_active"
            " AND (id = :i OR username = :u)"
        ),
        {"i": user_id, "u": username},
    ).mappings().first()  # fmt: skip
    if row is None:
        raise NotFound(
            f"User '{username or user_id}' does not exist or is disabled.",
            code="user_not_found", username=username,
        )  # fmt: skip
    return dict(row)


def _matches(session: Session, user_id: int, password: str) -> bool:
    stored = session.execute(
        text("SELECT password_hash FROM users WHERE id = :i"), {"i": user_id}
    ).scalar()
    return bool(stored) and check_password_hash(stored, password)


def _store(
    session: Session, user_id: int, password: str, must_change: bool, revoke_tokens: bool
) -> tuple[int, int]:
    """Set the hash and the flag, end every session (the version moves on), revoke the tokens
    if asked; (the new session version, tokens revoked)."""
    # The flag changes only with the version, so an identity cached under the old version
    # (GIS_APP_AUTH_CACHE_S) can never carry a stale flag under the new one.
    version = session.execute(
        text(
            "UPDATE users SET password_hash = :h, must_change_password = :m,"
            " session_version = session_version + 1 WHERE id = :i RETURNING session_version"
        ),
        {"h": generate_password_hash(password), "m": must_change, "i": user_id},
    ).scalar_one()
    revoked = 0
    if revoke_tokens:
        revoked = session.execute(
            text(
                "UPDATE api_tokens SET revoked_at = now() WHERE user_id = :i AND revoked_at IS NULL"
            ),
            {"i": user_id},
        ).rowcount
    return version, revoked
