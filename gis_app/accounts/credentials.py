"""Credentials checked inside another statement: a tile's check and answer in one round trip.

The rules are those of users.identity_for_token and users.identity_for_user (the token's SQL is
shared, so the two cannot disagree): a token must be known, not revoked, not expired and its user
active; a login session's user must be active and its session version current.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.identity import Identity
from gis_app.db import on_replica

# The row of a valid token (at most one: token_hash is unique). `stale`: last_used_at is due a
# new mark (at most once a minute, so a busy client does not turn every read into a write).
TOKEN_SQL = (
    "SELECT t.id AS token_id, t.last_used_at < now() - interval '1 minute'"
    " OR t.last_used_at IS NULL AS stale, u.id AS user_id, u.username, u.role, u.operator_id,"
    " false AS must_change_password"
    " FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = :auth_hash AND t.revoked_at IS NULL AND u.is_active"
    " AND (t.expires_at IS NULL OR t.expires_at > now())"
)
# The same columns for a login session: the user, active, with the session's version. Only a
# login is held to the password change an admin asked for; a token works on (docs/accounts.md).
SESSION_SQL = (
    "SELECT NULL::bigint AS token_id, false AS stale, u.id AS user_id, u.username, u.role,"
    " u.operator_id, u.must_change_password FROM users u"
    " WHERE u.id = :auth_user AND u.is_active AND u.session_version = :auth_version"
)


def token_hash(token: str) -> str:
    """How a token is stored: SHA-256 hex (tokens carry their own entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """What a request presented: an API token, or a login session's user id and version."""

    token: str | None = None
    user_id: int | None = None
    session_version: int | None = None

    def check_sql(self) -> tuple[str, dict[str, Any]]:
        """A SELECT returning one row (token_id, stale, user_id, username, role, operator_id,
        must_change_password) when these credentials are valid now, none otherwise; its
        parameters start with auth_."""
        if self.token is not None:
            return TOKEN_SQL, {"auth_hash": token_hash(self.token)}
        return SESSION_SQL, {"auth_user": self.user_id, "auth_version": self.session_version}


def mark_used(session: Session, row: Any) -> None:
    """Mark a valid token's last use when due (`stale`), on the primary only."""
    # A replica is read-only: the mark waits for a request that reads the primary.
    if row.stale and row.token_id is not None and not on_replica(session):
        session.execute(
            text("UPDATE api_tokens SET last_used_at = now() WHERE id = :i"), {"i": row.token_id}
        )
        session.commit()


def confirmed_identity(session: Session, row: Any) -> Identity | None:
    """The Identity of a row of Credentials.check_sql (None: not valid), marking the token used.

    Only for a request that needs no more than "who" and "may they at all" (a tile): a
    dispatcher's municipalities are not looked up here, so they are empty (sees none), never
    the whole oblast."""
    if row is None or row.user_id is None:
        return None
    mark_used(session, row)
    municipality_ids = () if row.role == "dispatcher" else None
    return Identity(row.user_id, row.username, row.role, row.operator_id, municipality_ids,
                    bool(row.must_change_password))  # fmt: skip
