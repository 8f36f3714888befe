"""Failed logins: counted per user name and per client address in PostgreSQL, to stop guessing.

The rows live in the database, not in a worker's memory, so the limits hold for every gunicorn
worker together. Each attempt is counted and recorded *before* its password is checked, under
transaction-scoped advisory locks on its user name and its address: attempts running at once in
several workers are counted one after the other, so exactly the limit is checked in a window, no
more (the locks are held only for the count and the insert, not for the slow password hash).
A refused (blocked) attempt is not kept: the block ends when its Retry-After says, whatever the
client sends meanwhile. A successful login removes the failures of its user name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from gis_app.models import LoginFailure

# Leningrad Oblast keeps Moscow time, UTC+3 all year (no DST since 2014): no tz database needed.
MSK = timezone(timedelta(hours=3), "MSK")
# As long as the longest user name (accounts.USERNAME), so a huge form field is not stored.
MAX_USERNAME_KEY = 64
# The first keys of the two-key advisory locks that serialise the count and the record.
LOCK_USERNAME, LOCK_ADDRESS = 8001, 8002


@dataclass(frozen=True)
class Limits:
    """Failures within `window_minutes` that block a user name, and a client address."""

    per_username: int
    per_address: int
    window_minutes: int

    @classmethod
    def from_config(cls, config: Mapping) -> Limits:
        """The limits of the GIS_APP_LOGIN_* settings."""
        return cls(
            int(config["GIS_APP_LOGIN_MAX_FAILURES"]),
            int(config["GIS_APP_LOGIN_MAX_FAILURES_PER_ADDRESS"]),
            int(config["GIS_APP_LOGIN_BLOCK_MINUTES"]),
        )

    @property
    def window(self) -> timedelta:
        """The window as an interval."""
        return timedelta(minutes=self.window_minutes)


@dataclass(frozen=True)
class Block:
    """Logins are refused for a user name or an address (`by`) until `until` (aware datetime)."""

    by: str
    until: datetime
    retry_after_s: int

    def message(self) -> str:
        """When to try again, Russian first, then English (Moscow time and minutes from now)."""
        # Round up to the minute: "after 14:32" must not name a time still inside the block.
        at = (self.until.astimezone(MSK) + timedelta(seconds=59, microseconds=999999)).strftime(
            "%H:%M"
        )
        minutes = max(1, math.ceil(self.retry_after_s / 60))
        ru, en = (
            ("под этим именем пользователя", "for this user name")
            if self.by == "username"
            else ("с этого адреса", "from this address")
        )
        return (
            f"Слишком много неудачных попыток входа {ru}. Попробуйте снова после {at} МСК"
            f" (через {minutes} мин). / Too many failed log-ins {en}."
            f" Try again after {at} MSK (in {minutes} min)."
        )


def username_key(username: str) -> str:
    """The user name as counted: as typed, stripped and lower-cased, at most 64 characters."""
    return username.strip().lower()[:MAX_USERNAME_KEY]


def _block_by(session: Session, by: str, value: str, limit: int, window: timedelta) -> Block | None:
    column = getattr(LoginFailure, by)  # "username" or "address"
    # Blocked while the limit-th newest failure is inside the window; it leaves the window at
    # failed_at + window, and the block with it.
    until = LoginFailure.failed_at + window
    row = session.execute(
        select(until, func.ceil(func.extract("epoch", until - func.now())))
        .where(column == value, LoginFailure.failed_at > func.now() - window)
        .order_by(LoginFailure.failed_at.desc())
        .offset(limit - 1)
        .limit(1)
    ).first()
    if row is None:
        return None
    return Block(by, row[0], max(1, int(row[1])))


def current_block(session: Session, username: str, address: str, limits: Limits) -> Block | None:
    """The block on this user name or address now (the later-ending one), if any."""
    blocks = [
        _block_by(session, "username", username, limits.per_username, limits.window),
        _block_by(session, "address", address, limits.per_address, limits.window),
    ]
    found = [b for b in blocks if b is not None]
    return max(found, key=lambda b: b.until) if found else None


def checked_login(
    session: Session,
    username: str,
    address: str,
    limits: Limits,
    check: Callable[[], int | None],
) -> tuple[int | None, Block | None]:
    """Run `check` (the password check) unless blocked; commits the record of the attempt.

    Returns (user id, None) on success, (None, None) on a failure (recorded), and (None, block)
    when the user name or address is blocked (`check` not run, nothing recorded).
    """
    key = username_key(username)
    # Two-key advisory locks (a key space apart from the one-key locks of imports), always the
    # name first, so two attempts never wait on each other in a cycle. Held until the commit.
    session.execute(select(func.pg_advisory_xact_lock(LOCK_USERNAME, func.hashtext(key))))
    session.execute(select(func.pg_advisory_xact_lock(LOCK_ADDRESS, func.hashtext(address))))
    block = current_block(session, key, address, limits)
    if block is not None:
        session.commit()
        return None, block
    # Recorded as a failure now, before the check, so that the next attempt counts it already.
    session.execute(insert(LoginFailure).values(username=key, address=address))
    session.commit()
    user_id = check()
    if user_id is not None:
        session.execute(delete(LoginFailure).where(LoginFailure.username == key))
    else:
        # Pruning on each failure keeps the table at about a window's failures (index on failed_at).
        session.execute(
            delete(LoginFailure).where(LoginFailure.failed_at < func.now() - limits.window)
        )
    session.commit()
    return user_id, None
