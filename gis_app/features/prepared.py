"""Statements prepared once per database connection (PREPARE ... / EXECUTE ...), for the
detailed tile statements a map sends dozens of times a second.

Planning a z14 tile's statement took longer than running it (0.29 ms against 0.40 ms, medians,
docs/scaling.md); a prepared statement is planned once per connection and then, after
PostgreSQL's first five custom plans, runs its generic plan. What is prepared is kept in the
pooled connection's `info`, which SQLAlchemy clears when the connection is closed or invalidated
(a server restart): a new connection prepares again.
"""

from __future__ import annotations

import functools
import hashlib
import re

import psycopg2
from sqlalchemy import Row
from sqlalchemy.orm import Session

# The names prepared on a connection (True) or that could not be (False), in its pool info.
_INFO_KEY = "gis_app_prepared"
# A connection keeps at most this many: the tile statements are a few per layer kind and zoom.
MAX_PER_CONNECTION = 64
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@functools.lru_cache(maxsize=256)
def driver_sql(sql: str) -> str:
    """`sql` with psycopg2's %(name)s placeholders for :name (once per statement text)."""
    return _PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))


@functools.lru_cache(maxsize=256)
def _forms(sql: str) -> tuple[str, str, str]:
    """(name, PREPARE statement, EXECUTE statement with %(name)s arguments) of `sql`."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    body = _PARAMETER.sub(number, sql)
    # The name says what it runs: network_features' tiles (a plan's reader sees the table).
    name = "network_features_tile_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
    arguments = ", ".join(f"%({n})s" for n in names)
    return name, f"PREPARE {name} AS {body}", f"EXECUTE {name}({arguments})"


def first_row(session: Session, sql: str, params: dict, prepare: bool = True) -> Row | None:
    """The first row of `sql` (bound :name parameters) on the Session's connection, from a
    statement prepared on that connection (prepared now if it is not yet); `prepare` False:
    run as it is, planned for these parameters.

    EXECUTE runs through exec_driver_sql, so SQLAlchemy's error handling stays: a lost connection
    invalidates the pool and answers 503. The PREPARE goes straight to the driver; should it fail
    (a connection lost just then), the statement runs unprepared through SQLAlchemy, which meets
    the same failure and handles it."""
    conn = session.connection()
    if prepare:
        name, statement, execute = _forms(sql)
        prepared = conn.connection.info.setdefault(_INFO_KEY, {})
        if name not in prepared and len(prepared) < MAX_PER_CONNECTION:
            try:
                with conn.connection.dbapi_connection.cursor() as cursor:
                    cursor.execute(statement)
                prepared[name] = True
            except psycopg2.Error:
                prepared[name] = False
        if prepared.get(name):
            return conn.exec_driver_sql(execute, params).first()
    return conn.exec_driver_sql(driver_sql(sql), params).first()
