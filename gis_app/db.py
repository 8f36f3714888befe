"""The engines of the app (the primary and its read replicas) and a Session per request.

The one place of engines and sessions. Writes, and every read that must see the latest state, use
the primary (DATABASE_URL). Views whose answers may be a few seconds stale (layer pages, OGC items,
tiles, exports, map data) are marked `@replica_ok`; their Session goes to a healthy streaming
replica of GIS_APP_DATABASE_REPLICA_URLS, unless the client wrote in the last
GIS_APP_READ_YOUR_WRITES_S seconds (a signed cookie set on every write: read-your-writes).
A replica that lags more than GIS_APP_REPLICA_MAX_LAG_S, does not answer, or left recovery
without becoming the app's primary (a split) is skipped until a later check finds it well; the
answer then comes from the primary, never an error because of the replica. A replica promoted to
be the primary (a failover: DATABASE_URL in libpq's multi-host form with
target_session_attrs=read-write now reaches it) serves reads as before.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2.errors
import psycopg2.extensions
from flask import Flask, Response, current_app, g, has_request_context, request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from gis_app.config import split_urls, sqlalchemy_url

log = logging.getLogger(__name__)

# The cookie that says "this client wrote at <signed time>"; its value is only the signature.
WROTE_COOKIE = "gis_app_wrote"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Every request's statement is short: no JIT (compiling costs more than it saves) and no parallel
# workers (starting them costs more than a tile or page saves; cursors never use them anyway).
# Every cursor the app declares (a big page, an export) is read to its end: planned for all its
# rows, not for the first tenth (the default fraction's plan cost a 10,000-feature page ~8%).
# Set once per connection, not per transaction: one round trip less per request.
SHORT_QUERIES = {
    "options": "-c jit=off -c max_parallel_workers_per_gather=0 -c cursor_tuple_fraction=1"
}
# Seconds libpq waits for one host to answer (unless the URL says connect_timeout=...): a
# replica or a primary that does not answer must not hold a request for long.
CONNECT_TIMEOUT_S = 2


# An execution option: the statement's text columns come back as the server's UTF-8 bytes, not
# str. A page of GeoJSON goes to the socket as it came: 10,000 features are about 5 MB, and
# decoding them into str and encoding them back cost about 30 ms a page (issue 17).
TEXT_AS_BYTES = "gis_app_text_as_bytes"


@event.listens_for(Engine, "before_cursor_execute")
def _text_as_bytes(conn, cursor, statement, parameters, context, executemany) -> None:
    if context is not None and context.execution_options.get(TEXT_AS_BYTES):
        psycopg2.extensions.register_type(psycopg2.extensions.BYTES, cursor)


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for a postgresql:// URL, checking connections before use."""
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(sqlalchemy_url(url), **kwargs)


def web_engine(url: str, ping_after_idle_s: float = 1.0, **kwargs) -> Engine:
    """An engine for the app's requests: settings for short queries on every connection, and a
    connection checked ("SELECT 1") only when it comes out of the pool after being idle for
    ping_after_idle_s; under load a request does not pay a round trip for the check, and
    after a server restart the first error invalidates the whole pool (503, then new ones)."""
    kwargs["connect_args"] = {**SHORT_QUERIES, **kwargs.get("connect_args", {})}
    if "connect_timeout" not in url:
        # A host that does not answer (a dead primary of a multi-host URL) must not hold a
        # request for the system's TCP timeout; libpq tries the next host after this long.
        kwargs["connect_args"].setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    engine = make_engine(url, pool_pre_ping=False, **kwargs)

    @event.listens_for(engine, "handle_error")
    def _read_only_is_a_lost_primary(context) -> None:
        # A write refused as read-only: the server this connection reached is (now) a standby.
        # Treated as a lost connection: a 503 with Retry-After, and the pool drops its
        # connections, so the next ones look for the host that takes writes (failover).
        if isinstance(context.original_exception, psycopg2.errors.ReadOnlySqlTransaction):
            context.is_disconnect = True

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["checked_in_at"] = time.monotonic()
        if dbapi_connection is not None and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False  # a tile's Session set it (see _single_statements)

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < ping_after_idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool drops this connection and tries another
            raise DisconnectionError(str(exc)) from exc

    return engine


def single_statements(view: Callable) -> Callable:
    """Mark a view whose statements need no common transaction and no server-side cursor (a
    tile): its Session runs each statement on its own (autocommit), saving BEGIN and ROLLBACK."""
    view.single_statements = True  # type: ignore[attr-defined]
    return view


def replica_ok(view: Callable) -> Callable:
    """Mark a view whose reads may be a few seconds stale: its Session may go to a replica."""
    view.replica_ok = True  # type: ignore[attr-defined]
    return view


# The health query, run on the replica itself: lag is the age of the last replayed transaction,
# except when everything received is replayed (an idle primary sends nothing, and the age of the
# last transaction grows without the replica being behind).
HEALTH_SQL = text(
    "SELECT pg_is_in_recovery() AS standby,"
    " CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)"
    " END AS lag_s, " + "pg_postmaster_start_time()::text || '@' || inet_server_port() AS server"
)
# Which running server a connection reached: its start time (to the microsecond) and port. A
# promotion keeps both; two different servers do not share them.
SERVER_SQL = text("SELECT pg_postmaster_start_time()::text || '@' || inet_server_port()")


def hosts(engine: Engine) -> str:
    """The host:port (or the list of them, of a multi-host URL) an engine connects to."""
    url = engine.url
    listed = url.query.get("host")
    if listed:
        return ",".join(listed) if isinstance(listed, tuple) else str(listed)
    return f"{url.host}:{url.port}"


@dataclass
class Replica:
    """One read replica: its engine and its last health check (cached between checks)."""

    url: str
    engine: Engine
    healthy: bool = False
    lag_s: float | None = None
    reason: str = "not checked yet"
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, max_lag_s: float, primary_server: Callable[[], str | None]) -> None:
        """Measure on the replica: in recovery, and replay lag at most max_lag_s; or promoted
        and now the app's primary itself (a failover), which is as fresh as reads get."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(HEALTH_SQL).one()
        except DBAPIError as exc:
            self._set(False, None, f"does not answer: {type(exc.orig).__name__}")
            return
        if not row.standby:
            if row.server == primary_server():
                self._set(True, 0.0, "promoted: the primary now, fine for reads")
            else:
                self._set(False, None, "not in recovery and not the primary: a split, skipped")
        elif float(row.lag_s) > max_lag_s:
            self._set(False, float(row.lag_s), f"lags {float(row.lag_s):.1f} s > {max_lag_s} s")
        else:
            self._set(True, float(row.lag_s), "ok")

    def _set(self, healthy: bool, lag_s: float | None, reason: str) -> None:
        if healthy != self.healthy:
            log.warning("replica %s: %s", hosts(self.engine), reason)
        self.healthy, self.lag_s, self.reason = healthy, lag_s, reason
        self.checked_at = time.monotonic()


class Replicas:
    """The read replicas, each checked at most every `check_s` seconds, picked in turn."""

    def __init__(
        self,
        urls: list[str],
        max_lag_s: float,
        check_s: float,
        primary: Engine | None = None,
        **engine_kwargs,
    ):
        self.max_lag_s, self.check_s, self.primary = max_lag_s, check_s, primary
        self.members = [Replica(url, web_engine(url, **engine_kwargs)) for url in urls]
        self._turn = itertools.count()

    def primary_server(self) -> str | None:
        """Which server the primary engine reaches now (see SERVER_SQL), or None."""
        if self.primary is None:
            return None
        try:
            with self.primary.connect() as conn:
                return conn.execute(SERVER_SQL).scalar()
        except DBAPIError:
            return None

    def _fresh(self, replica: Replica) -> Replica:
        if time.monotonic() - replica.checked_at >= self.check_s:
            # One thread checks; the others use the last result meanwhile.
            if replica.lock.acquire(blocking=False):
                try:
                    replica.check(self.max_lag_s, self.primary_server)
                finally:
                    replica.lock.release()
        return replica

    def pick(self) -> Replica | None:
        """A healthy replica (round robin), or None: then the primary answers."""
        n = len(self.members)
        start = next(self._turn)
        for i in range(n):
            replica = self._fresh(self.members[(start + i) % n])
            if replica.healthy:
                return replica
        return None

    def mark_down(self, replica: Replica, reason: str) -> None:
        """Skip a replica that failed between checks until the next check."""
        replica._set(False, None, reason)

    def status(self) -> list[dict]:
        """Each replica's host, health, lag (s) and reason, as last checked."""
        return [
            {"host": hosts(r.engine), "healthy": r.healthy,
             "lag_s": r.lag_s, "reason": r.reason}
            for r in (self._fresh(m) for m in self.members)
        ]  # fmt: skip

    def dispose(self) -> None:
        """Close every replica's pooled connections."""
        for member in self.members:
            member.engine.dispose()


def init_app(app: Flask) -> None:
    """Create the app's engines (or take a test's), route sessions, close each request's Session."""
    pool = {
        "pool_size": int(app.config["GIS_APP_DB_POOL_SIZE"]),
        "max_overflow": int(app.config["GIS_APP_DB_MAX_OVERFLOW"]),
        # A full pool answers 503 after this wait instead of hanging the request.
        "pool_timeout": float(app.config["GIS_APP_DB_POOL_TIMEOUT_S"]),
    }
    if "ENGINE" not in app.config:
        app.config["ENGINE"] = web_engine(app.config["DATABASE_URL"], **pool)
    app.extensions["gis_app_replicas"] = Replicas(
        split_urls(str(app.config["GIS_APP_DATABASE_REPLICA_URLS"])),
        max_lag_s=float(app.config["GIS_APP_REPLICA_MAX_LAG_S"]),
        check_s=float(app.config["GIS_APP_REPLICA_CHECK_S"]),
        primary=app.config["ENGINE"],
        **pool,
    )
    app.teardown_appcontext(_close_session)
    app.after_request(_remember_write)


def replicas(app: Flask | None = None) -> Replicas:
    """The read replicas of `app` (default: the current app)."""
    return (app or current_app).extensions["gis_app_replicas"]


def _signer(app: Flask) -> TimestampSigner:
    return TimestampSigner(app.config["SECRET_KEY"], salt="gis_app.wrote")


def wrote_recently(app: Flask, cookie: str | None) -> bool:
    """Whether the WROTE_COOKIE value `cookie` says its client wrote in the last
    GIS_APP_READ_YOUR_WRITES_S seconds (then its reads go to the primary)."""
    if not cookie:
        return False
    try:
        _signer(app).unsign(cookie, max_age=float(app.config["GIS_APP_READ_YOUR_WRITES_S"]))
    except (SignatureExpired, BadSignature):
        return False
    return True


def _remember_write(response: Response) -> Response:
    """After a write (any unsafe method not refused), tell the client to read the primary."""
    if request.method not in SAFE_METHODS and response.status_code < 400:
        seconds = int(float(current_app.config["GIS_APP_READ_YOUR_WRITES_S"]))
        response.set_cookie(
            WROTE_COOKIE, _signer(current_app).sign("1").decode(), max_age=max(seconds, 1),
            httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"],
        )  # fmt: skip
    return response


def _view_says(mark: str) -> bool:
    # A command or a worker (an app context with no request) runs no view: the primary, as is.
    if not has_request_context():
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, mark, False))


def _may_use_replica() -> bool:
    if not has_request_context() or request.method not in SAFE_METHODS:
        return False
    return _view_says("replica_ok") and not wrote_recently(
        current_app, request.cookies.get(WROTE_COOKIE)
    )


def _single_statements(session: Session, single: bool) -> Session:
    """Run the Session's statements each on its own (no BEGIN, no ROLLBACK) when the view asks.

    psycopg2's own flag, set on the checked-out connection and cleared when it goes back to the
    pool: both are client-side, where SQLAlchemy's isolation_level="AUTOCOMMIT" costs a server
    round trip to set and another to reset (SET default_transaction_isolation)."""
    if single:
        session.connection().connection.dbapi_connection.autocommit = True
    return session


def in_transactions(session: Session) -> None:
    """Undo single_statements for what follows on this Session's connection: a server-side
    cursor (a big page) needs a transaction. Nothing to do when it runs in one already."""
    dbapi_connection = session.connection().connection.dbapi_connection
    if dbapi_connection.autocommit:
        dbapi_connection.autocommit = False  # no transaction is open in autocommit: allowed now


def _replica_session(app: Flask, single: bool) -> Session | None:
    """A Session on a healthy replica with its connection checked out, or None."""
    pool = replicas(app)
    while (replica := pool.pick()) is not None:
        session = Session(bind=replica.engine, info={"short_queries": True})
        try:
            session.connection()  # checks the connection out now (pre-ping), not mid-answer
        except DBAPIError as exc:
            session.close()
            pool.mark_down(replica, f"does not answer: {type(exc.orig).__name__}")
            continue
        session.info["replica"] = replica.url
        return _single_statements(session, single)
    return None


def open_session(app: Flask, may_use_replica: bool, single: bool) -> Session:
    """A new Session of `app` for one request: on a healthy replica when the request may read
    one, else on the primary (or the test's SESSION_BIND); `single`: each statement on its own
    (autocommit). Flask-request-free, so a WSGI fast path routes exactly as a view does."""
    bind = app.config.get("SESSION_BIND")
    if bind is None and may_use_replica:
        session = _replica_session(app, single)
        if session is not None:
            return session
    session = Session(
        bind=bind if bind is not None else app.config["ENGINE"],
        join_transaction_mode="create_savepoint",
        info={"short_queries": True},
    )
    return _single_statements(session, single) if bind is None else session


def get_session() -> Session:
    """The Session of this request: on a replica for `@replica_ok` reads when one is healthy and
    the client has not just written, else on the primary; tests may bind it (SESSION_BIND)."""
    if "db_session" not in g:
        g.db_session = open_session(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            _may_use_replica(),
            _view_says("single_statements"),
        )
    return g.db_session


def on_replica(session: Session) -> bool:
    """Whether the Session reads a replica (read-only: no writes may go through it)."""
    return "replica" in session.info


def close_session(session: Session, rollback: bool = False) -> None:
    """Close a request's Session (rolling back first if asked). A connection the server dropped
    meanwhile (a restart) has nothing left to roll back: that is logged, not raised, since the
    answer is already made or sent."""
    try:
        if rollback:
            session.rollback()
        session.close()
    except DBAPIError as exc:
        log.warning("closing a Session whose connection was lost: %s", exc.orig)
        session.invalidate()


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        close_session(session, rollback=exc is not None)


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
