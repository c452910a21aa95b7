"""Engines and sessions. PostgreSQL via asyncpg in production; SQLite via aiosqlite embedded."""

from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_only

from core.clock import CLOCK_KEY, Clock, SystemClock
from core.errors import KibetiError

# SQLite lets one writer at a time; a transaction lasts milliseconds, so a wait longer than this is a
# bug holding the lock (a request that opened a second session inside its first waited 30 s and froze
# every USSD hop meanwhile). Fail fast instead: the unit of work fails with "database is locked".
SQLITE_BUSY_TIMEOUT_SECONDS = 5
# SQLite's busy handler is not a queue: under many concurrent writers (the embedded app's scheduler,
# jobs, callbacks and requests) a waiter can keep losing the write lock to newcomers past the busy
# timeout, and the unit of work failed with "database is locked" though nothing was wrong. The lock is
# taken by BEGIN IMMEDIATE, the transaction's first statement: nothing is done yet, so it is safe to
# take it again, after these pauses (the event loop runs meanwhile), before failing with DatabaseBusy.
SQLITE_LOCK_RETRY_DELAYS = (0.1, 0.5, 2.0)


class DatabaseBusy(KibetiError):
    """The embedded SQLite database stayed locked by other writers through every retry."""

    code = "service_unavailable"
    http_status = 503


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10, null_pool: bool = False) -> AsyncEngine:
    """Build an engine. `null_pool` is for RQ jobs, which run in a fresh event loop each time."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    connect_args = _local_without_tls(url)
    if null_pool:
        return create_async_engine(url, poolclass=NullPool, connect_args=connect_args)
    # No pre-ping (a round trip before every transaction, measured on the USSD hop and the payout
    # path); connections are recycled instead, and a connection found dead is dropped by SQLAlchemy's
    # disconnect handling, so after a database restart one request fails and is retried by its caller.
    # Every connection is kept (no overflow): overflow connections are closed on return, and under a
    # burst each reopen cost an asyncpg connect plus a new PostgreSQL backend (65-150 per 1,000 USSD
    # hops, measured); the cap stays at twice `pool_size`.
    return create_async_engine(
        url, pool_size=2 * pool_size, max_overflow=0, pool_recycle=1800, connect_args=connect_args
    )


_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _local_without_tls(url: str) -> dict[str, object]:
    """No TLS to a PostgreSQL on this machine unless the URL asks for it: asyncpg's default
    (`sslmode` prefer) builds an SSL context and tries TLS on every new connection (~3 ms of CPU
    each, profiled on a forked payout work-horse), for a loopback the server does not encrypt."""
    parsed = make_url(url)
    if (parsed.host or "localhost") not in _LOCAL_HOSTS or {"ssl", "sslmode"} & set(parsed.query):
        return {}
    return {"ssl": False}


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # The driver's own transaction handling commits a released SAVEPOINT when the transaction began
    # with a SELECT, so a later rollback would not undo it (a ledger hold surviving a rollback).
    # Take over: no implicit BEGIN from the driver, an explicit one from SQLAlchemy's "begin" event.
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE: take the write lock up front (waiting up to busy_timeout). A deferred transaction
    # that read first cannot be upgraded to a writer once another connection has committed: SQLite
    # answers "database is locked" at once, busy_timeout does not apply. In the embedded app the
    # scheduler, jobs and callbacks commit all the time, so USSD hops and jobs failed at random.
    # A transaction must therefore not wait on a second session's write while it is open.
    for attempt, pause in enumerate((*SQLITE_LOCK_RETRY_DELAYS, None), start=1):
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "database is locked" not in str(exc.orig):
                raise
            if pause is None:
                raise DatabaseBusy(
                    f"the SQLite database stayed locked by other writers ({attempt} tries, each waiting "
                    f"{SQLITE_BUSY_TIMEOUT_SECONDS} s): nothing was written; try again, and for this "
                    "much concurrent writing run on PostgreSQL (DATABASE_URL)"
                ) from exc
        await_only(asyncio.sleep(pause))  # the begin event runs in SQLAlchemy's greenlet: this yields


def make_session_factory(
    engine: AsyncEngine, *, clock: Clock | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that carry `clock` (the system clock when not given): in `session.info` for
    `core.clock.clock_of`, and in their connections' execution options for column defaults
    (`core.db.base.utcnow`)."""
    clock = clock or SystemClock()
    return async_sessionmaker(
        engine.execution_options(**{CLOCK_KEY: clock}), expire_on_commit=False, info={CLOCK_KEY: clock}
    )


def clock_of_factory(factory: async_sessionmaker[AsyncSession]) -> Clock:
    """The clock `factory`'s sessions carry (`core.clock.clock_of` of each of them)."""
    clock: Clock | None = factory.kw.get("info", {}).get(CLOCK_KEY)
    if clock is None:
        raise RuntimeError("sessions without a clock: build the factory with make_session_factory")
    return clock


def with_clock(factory: async_sessionmaker[AsyncSession], clock: Clock) -> async_sessionmaker[AsyncSession]:
    """The same database's sessions, carrying `clock` instead (a no-op when they already do)."""
    if factory.kw.get("info", {}).get(CLOCK_KEY) is clock:
        return factory
    engine = factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return make_session_factory(engine, clock=clock)
