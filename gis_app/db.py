"""The SQLAlchemy engine of the app and a Session per request."""

from __future__ import annotations

import psycopg2.errors
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from gis_app.config import sqlalchemy_url


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for a postgresql:// URL, checking connections before use."""
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, **kwargs)


def init_app(app: Flask) -> None:
    """Create the app's engine (or take a test's) and close each request's Session."""
    if "ENGINE" not in app.config:
        app.config["ENGINE"] = make_engine(app.config["DATABASE_URL"], pool_size=5, max_overflow=10)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """The Session of this request; tests may bind it to their own connection (SESSION_BIND)."""
    if "db_session" not in g:
        bind = current_app.config.get("SESSION_BIND") or current_app.config["ENGINE"]
        g.db_session = Session(bind=bind, join_transaction_mode="create_savepoint")
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached (down, restarting, connection lost),
    not that a statement was wrong."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        orig = getattr(exc, "orig", None)
        # A cancelled statement, a deadlock or a serialization failure are OperationalErrors
        # of psycopg2 too, but the database is there: those stay 500 (logged with traceback).
        return not isinstance(
            orig,
            psycopg2.errors.QueryCanceled
            | psycopg2.errors.TransactionRollbackError
            | psycopg2.errors.LockNotAvailable,
        )
    return False
