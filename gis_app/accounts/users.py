"""Users and API tokens: creation, password and token checks, and the Identity of a user.

Passwords are hashed with Werkzeug's scrypt; tokens are random 256-bit strings stored as SHA-256
(they carry their own entropy, so a slow hash adds nothing), shown once when made.
"""

from __future__ import annotations

import functools
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from gis_app.accounts.credentials import TOKEN_SQL, mark_used, token_hash
from gis_app.accounts.identity import ROLES, Identity
from gis_app.accounts.passwords import check_new_password
from gis_app.errors import Conflict, InvalidParameter, NotFound

TOKEN_PREFIX = "gis_"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str | None = None,
    operator_slug: str | None = None,
    municipality_slugs: tuple[str, ...] = (),
    full_name: str = "",
    email: str | None = None,
    is_demo: bool = False,
) -> int:
    """Create a user and return its id; bad values raise InvalidParameter naming the field."""
    if not USERNAME.match(username):
        raise InvalidParameter("username: 2-64 of a-z, 0-9, '.', '_', '-'", parameter="username")
    if role not in ROLES:
        raise InvalidParameter(f"role must be one of {list(ROLES)}", parameter="role", value=role)
    if password is not None:
        check_new_password(username, password, is_demo=is_demo)
    if (role == "operator") != bool(operator_slug):
        raise InvalidParameter(
            "operator staff need --operator, and only they", parameter="operator"
        )
    if municipality_slugs and role != "dispatcher":
        raise InvalidParameter("only dispatchers have municipalities", parameter="municipality")
    operator_id = None
    if operator_slug:
        operator_id = session.execute(
            text("SELECT id FROM operators WHERE slug = :s"), {"s": operator_slug}
        ).scalar()
        if operator_id is None:
            raise NotFound(f"Operator '{operator_slug}' does not exist.", operator=operator_slug)
    if session.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
        raise Conflict(f"User '{username}' exists already.", code="user_exists", username=username)
    user_id = session.execute(
        text(
            "INSERT INTO users (username, full_name, email, password_hash, role, operator_id, is_demo)"
            " VALUES (:u, :n, :e, :p, :r, :o, :d) RETURNING id"
        ),
        {
            "u": username,
            "n": full_name,
            "e": email,
            "r": role,
            "o": operator_id,
            "d": is_demo,
            "p": generate_password_hash(password) if password else None,
        },
    ).scalar_one()
    for slug in municipality_slugs:
        found = session.execute(
            text(
                "INSERT INTO user_municipalities SELECT :u, id FROM municipalities WHERE slug = :s"
            ),
            {"u": user_id, "s": slug},
        ).rowcount
        if not found:
            raise NotFound(f"Municipality '{slug}' does not exist.", municipality=slug)
    return user_id


def check_password(session: Session, username: str, password: str) -> int | None:
    """The id of the active user with this password, or None (same work whether or not it exists)."""
    row = session.execute(
        text("SELECT id, password_hash FROM users WHERE username = :u AND is_active"),
        {"u": username},
    ).first()
    stored = row[1] if row and row[1] else _dummy_hash()
    if check_password_hash(stored, password) and row and row[1]:
        session.execute(text("UPDATE users SET last_login_at = now() WHERE id = :i"), {"i": row[0]})
        return row[0]
    return None


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the user does not exist, so both cases take as long."""
    return generate_password_hash(secrets.token_hex(8))


def create_token(session: Session, username: str, name: str = "", days: int | None = 365) -> str:
    """Make an API token for a user and return it (only its hash is kept)."""
    user_id = session.execute(
        text("SELECT id FROM users WHERE username = :u AND is_active"), {"u": username}
    ).scalar()
    if user_id is None:
        raise NotFound(f"User '{username}' does not exist or is disabled.", username=username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    session.execute(
        text(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)"
            " VALUES (:u, :n, :h, :p, :x)"
        ),
        {"u": user_id, "n": name, "h": token_hash(token), "p": token[:10], "x": expires},
    )
    return token


def revoke_token(session: Session, token_id: int, user_id: int | None = None) -> bool:
    """Revoke a token (only the user's own when user_id is given); True if one was revoked."""
    return bool(
        session.execute(
            text(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = :i AND revoked_at IS NULL"
                " AND (CAST(:u AS integer) IS NULL OR user_id = :u)"
            ),
            {"i": token_id, "u": user_id},
        ).rowcount
    )


def list_tokens(session: Session, user_id: int | None = None) -> list[dict]:
    """Tokens (never their secret): id, user, name, prefix, dates."""
    rows = session.execute(
        text(
            "SELECT t.id, u.username, t.name, t.prefix, t.created_at, t.expires_at, t.revoked_at,"
            " t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE CAST(:u AS integer) IS NULL OR t.user_id = :u ORDER BY t.id"
        ),
        {"u": user_id},
    ).mappings()
    return [dict(r) for r in rows]


def identity_for_token(session: Session, token: str) -> Identity | None:
    """The identity a bearer token stands for, if the token and its user are valid now.

    One indexed read per request; `last_used_at` is written at most once a minute, so a busy
    client does not turn every read into a write and a commit.
    """
    row = session.execute(text(TOKEN_SQL), {"auth_hash": token_hash(token)}).first()
    if row is None:
        return None
    mark_used(session, row)
    if row.role != "dispatcher":
        return Identity(row.user_id, row.username, row.role, row.operator_id, None)
    return identity_for_user(session, row.user_id)


def identity_for_user(
    session: Session, user_id: int, session_version: int | None = None
) -> Identity | None:
    """The identity of an active user: a dispatcher's charge is every municipality under theirs.

    With `session_version` (a login's), None when the user's sessions were ended since (logout,
    password change): the cookie no longer logs anybody in."""
    row = session.execute(
        text(
            "SELECT id, username, role, operator_id, session_version, must_change_password"
            " FROM users WHERE id = :i AND is_active"
        ),
        {"i": user_id},
    ).first()
    if row is None or (session_version is not None and row.session_version != session_version):
        return None
    # Only a login's session is held to the change page; a token works on (docs/accounts.md).
    must_change = session_version is not None and row.must_change_password
    municipality_ids = None
    if row.role == "dispatcher":
        # text(): a recursive walk down the municipality hierarchy from the user's own.
        ids = session.execute(
            text(
                """
                WITH RECURSIVE charge AS (
                    SELECT m.id, m.parent_id FROM municipalities m
                    JOIN user_municipalities um ON um.municipality_id = m.id WHERE um.user_id = :u
                    UNION SELECT c.id, c.parent_id FROM municipalities c JOIN charge ON c.parent_id = charge.id
                )
                SELECT id, parent_id FROM charge
                """
            ),
            {"u": row.id},
        ).all()
        whole_oblast = any(parent is None for _, parent in ids)
        municipality_ids = None if whole_oblast else tuple(sorted(i for i, _ in ids))
    return Identity(row.id, row.username, row.role, row.operator_id, municipality_ids, must_change)


def current_session_version(session: Session, user_id: int) -> int:
    """The version a new login's session carries (see end_sessions)."""
    return session.execute(
        text("SELECT session_version FROM users WHERE id = :i"), {"i": user_id}
    ).scalar_one()


def end_sessions(session: Session, user_id: int) -> None:
    """End every session of the user on the server (logout, password change): the version the
    cookies carry is no longer the user's. The caller commits."""
    session.execute(
        text("UPDATE users SET session_version = session_version + 1 WHERE id = :i"),
        {"i": user_id},
    )


def list_users(session: Session) -> list[dict]:
    """The users by name: username, full_name, role, operator (slug), municipalities (slugs joined
    by commas), is_active, last_login_at, must_change_password."""
    rows = session.execute(
        text(
            "SELECT u.username, u.full_name, u.role, o.slug AS operator,"
            " string_agg(m.slug, ',' ORDER BY m.slug) AS municipalities, u.is_active,"
            " u.last_login_at, u.must_change_password"
            " FROM users u LEFT JOIN operators o ON o.id = u.operator_id"
            " LEFT JOIN user_municipalities um ON um.user_id = u.id"
            " LEFT JOIN municipalities m ON m.id = um.municipality_id"
            " GROUP BY u.id, o.slug ORDER BY u.username"
        )
    ).mappings()
    return [dict(r) for r in rows]


def disable_user(session: Session, username: str) -> bool:
    """Disable a user (their logins and tokens stop working at once); False if there is none."""
    return bool(
        session.execute(
            text("UPDATE users SET is_active = false WHERE username = :u"), {"u": username}
        ).rowcount
    )
