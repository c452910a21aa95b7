"""Write jobs into the outbox inside the caller's transaction, relay them, mark them done."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Update, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import clock_of
from core.db.raw import run_on_session_connection
from core.db.session import clock_of_factory
from core.outbox import handlers
from core.outbox.models import OutboxJob, OutboxStatus
from core.ports import JobQueue

REDISPATCH_AFTER = timedelta(seconds=60)
RUNNER = "core.outbox.jobs.run"
Target = TypeVar("Target", bound=Callable[..., Awaitable[Any]])
_MARKS_ROW_DONE = "__outbox_marks_row_done__"
_DONE_SQL = "UPDATE outbox SET status = 'done', done_at = $2 WHERE id = $1"


def done_if_sql(*, row: str, at: str, when: str) -> str:
    """The statement marking outbox row `row` done at `at` if `when` holds, as SQL text for a
    data-modifying CTE of another core module's one-statement write (their placeholders, e.g. "$4")."""
    return f"UPDATE outbox SET status = 'done', done_at = {at} WHERE id = {row} AND {when} RETURNING id"  # noqa: S608 (constant fragments, no input)


_ENQUEUE_SQL = """
INSERT INTO outbox (dedupe_key, job, queue, kwargs, status, attempts, created_at, dispatched_at)
VALUES ($1, $2, $3, $4::text::json, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id
"""
_RUN_AFTER_COMMIT = "outbox_run_after_commit"


def marks_row_done(target: Target) -> Target:
    """Declare that `target(**kwargs, outbox_id=...)` marks the outbox row done on every path that
    finishes its work (and leaves it undone when it raises, so the job is retried), and that its own
    claim decides whether work is left: the runner then calls it without reading the row."""
    setattr(target, _MARKS_ROW_DONE, True)
    return target


def resolve_job(dotted: str) -> Callable[..., Awaitable[Any]]:
    """The function an outbox row names: a handler registered by name (core.outbox.handlers; an old
    name's alias included), else a module-level function by dotted path."""
    named = handlers.lookup(dotted)
    if named is not None:
        return named
    if dotted.startswith(handlers.PREFIX):
        raise handlers.UnknownHandler(
            f"no handler registered for {dotted}: start processes through bootstrap"
        )
    module_name, _, attribute = dotted.rpartition(".")
    target: Callable[..., Awaitable[Any]] = getattr(importlib.import_module(module_name), attribute)
    return target


def marks_own_row_done(job: str) -> bool:
    try:
        return bool(getattr(resolve_job(job), _MARKS_ROW_DONE, False))
    except (ImportError, AttributeError, ValueError, LookupError):
        return False


@dataclass(frozen=True)
class Staged:
    """A row staged to run in the staging process after its transaction commits (`run_after_commit`)."""

    outbox_id: int
    job: str
    kwargs: dict[str, Any]


def run_after_commit(session: AsyncSession) -> list[Staged]:
    """Opt this session in: rows staged in it with `here=True` are written already `dispatched` (no
    relay, no queue) and listed here; the session's owner runs them once the transaction commits
    (core.outbox.jobs.run), and must `discard_staged` if it rolls back. If the owner dies before it
    has, the relay dispatches them like any job that vanished from the queue, REDISPATCH_AFTER later:
    nothing is lost, a job may run twice (jobs are idempotent)."""
    staged: list[Staged] = session.info.setdefault(_RUN_AFTER_COMMIT, [])
    return staged


def discard_staged(session: AsyncSession) -> None:
    """The session's transaction rolled back: its rows to run after commit were never written."""
    staged = session.info.get(_RUN_AFTER_COMMIT)
    if staged is not None:
        staged.clear()


async def enqueue(
    *,
    session: AsyncSession,
    job: str,
    kwargs: dict[str, Any],
    dedupe_key: str,
    queue: str = "default",
    here: bool = False,
) -> int:
    """Stage a job in the caller's transaction. The same dedupe_key stages it once; returns the row id.

    `job` is a dotted path to a module-level async function called with `kwargs` (JSON-safe). With
    `here`, in a session that opted in (`run_after_commit`), the staging process runs it itself.
    """
    staged = session.info.get(_RUN_AFTER_COMMIT) if here else None
    now = clock_of(session).now()
    status, attempts, dispatched_at = OutboxStatus.PENDING.value, 0, None
    if staged is not None:
        status, attempts, dispatched_at = OutboxStatus.DISPATCHED.value, 1, now
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    if dialect == "postgresql":  # a plain statement: SQLAlchemy compiled this insert anew each time
        inserted = await run_on_session_connection(
            session,
            _ENQUEUE_SQL,
            [dedupe_key, job, queue, json.dumps(kwargs), status, attempts, now, dispatched_at],
        )
        row_id = None if inserted is None else inserted["id"]
    else:
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(OutboxJob)
        statement = (
            insert.values(
                dedupe_key=dedupe_key,
                job=job,
                queue=queue,
                kwargs=kwargs,
                status=status,
                attempts=attempts,
                created_at=now,
                dispatched_at=dispatched_at,
            )
            .on_conflict_do_nothing()
            .returning(OutboxJob.id)
        )
        row_id = (await session.execute(statement)).scalar_one_or_none()
    if row_id is None:  # staged before (that row runs the way it was staged)
        query = select(OutboxJob.id).where(OutboxJob.dedupe_key == dedupe_key)
        return int((await session.execute(query)).scalar_one())
    if staged is not None:
        staged.append(Staged(outbox_id=int(row_id), job=job, kwargs=dict(kwargs)))
    return int(row_id)


async def mark_done(*, session: AsyncSession, outbox_id: int) -> None:
    """Mark the row done in the caller's transaction (a plain statement: no ORM bookkeeping)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await run_on_session_connection(session, _DONE_SQL, [outbox_id, clock_of(session).now()])
        return
    connection = await session.connection()
    await connection.execute(_done_statement(outbox_id, clock_of(session).now()))


@asynccontextmanager
async def _one_statement(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A connection for one statement. On PostgreSQL in autocommit: the statement is its own
    transaction, one round trip instead of three (BEGIN, statement, COMMIT/ROLLBACK). SQLite keeps
    its explicit BEGIN IMMEDIATE (core.db.session), so there it is an ordinary transaction."""
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection
        await connection.commit()


async def pending_job(
    *, session_factory: async_sessionmaker[AsyncSession], outbox_id: int
) -> tuple[str, dict[str, Any]] | None:
    """The row's job and kwargs, or None when the row is gone or already done."""
    query = select(OutboxJob.job, OutboxJob.kwargs, OutboxJob.status).where(OutboxJob.id == outbox_id)
    async with _one_statement(session_factory) as connection:
        row = (await connection.execute(query)).one_or_none()
    if row is None or row.status == OutboxStatus.DONE.value:
        return None
    return str(row.job), dict(row.kwargs)


async def finish(*, session_factory: async_sessionmaker[AsyncSession], outbox_id: int) -> None:
    """Mark the row done on its own (`mark_done` does it inside the caller's transaction)."""
    now = clock_of_factory(session_factory).now()
    async with _one_statement(session_factory) as connection:
        await connection.execute(_done_statement(outbox_id, now))


def _done_statement(outbox_id: int, now: datetime) -> Update:
    return (
        update(OutboxJob).where(OutboxJob.id == outbox_id).values(status=OutboxStatus.DONE.value, done_at=now)
    )


async def relay(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    now: Callable[[], datetime] | None = None,
    batch: int = 200,
) -> int:
    """Dispatch pending rows, and re-dispatch rows whose job vanished from the queue. `now`: the
    sessions' clock unless given.

    At-least-once: a crash between enqueue and the status update dispatches again, so every job
    must be idempotent. Returns how many jobs were (re-)dispatched.
    """
    now = now or clock_of_factory(session_factory).now
    stale_before = now() - REDISPATCH_AFTER
    async with session_factory() as session:
        query = (
            select(OutboxJob)
            .where(
                or_(
                    OutboxJob.status == OutboxStatus.PENDING.value,
                    (OutboxJob.status == OutboxStatus.DISPATCHED.value)
                    & (OutboxJob.dispatched_at < stale_before),
                )
            )
            .order_by(OutboxJob.id)
            .limit(batch)
        )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await session.execute(query)).scalars().all()
        dispatched = 0
        for row in rows:
            if row.status == OutboxStatus.DISPATCHED.value and queue.is_pending(row.job_id):
                row.dispatched_at = now()
                continue
            row.attempts += 1
            runner_kwargs: dict[str, Any] = {"outbox_id": row.id}
            if marks_own_row_done(row.job):  # it runs without reading the row: send what it needs
                runner_kwargs.update(job=row.job, kwargs=dict(row.kwargs))
            # Other rows' kwargs (phone numbers, SMS texts) stay in the database, out of Redis and
            # out of RQ's job descriptions in the worker logs: the runner reads them from the row.
            queue.enqueue(RUNNER, job_id=row.job_id, kwargs=runner_kwargs, queue=row.queue)
            row.status = OutboxStatus.DISPATCHED.value
            row.dispatched_at = now()
            dispatched += 1
        await session.commit()
    return dispatched
