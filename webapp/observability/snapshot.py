"""Reads what an operator watches from the database and Redis, for /metrics and `kibeti doctor`.

Each part is read on its own: one that fails (a table not migrated yet, Redis down) marks its
dependency down and leaves the rest of the scrape intact.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.models import Alert, AlertStatus, Case, CaseStatus
from core.fx import queries as fx_queries
from core.ledger import queries as ledger_queries
from core.outbox import queries as outbox_queries
from core.payments import queries as payments_queries
from core.rails import queries as rails_queries
from core.runtime import Runtime
from wallets.models import ChainCursor
from webapp.observability.metrics import Snapshot, age_seconds

log = structlog.get_logger("kibeti.metrics")

_OPEN_CASES = tuple(s.value for s in CaseStatus if s is not CaseStatus.CLOSED)


async def take_snapshot(runtime: Runtime) -> Snapshot:
    snapshot = Snapshot()
    now = runtime.clock.now()
    async with _part(snapshot, "database"), runtime.session_factory() as session:
        await _payments(session, snapshot, now)
        await _rail_refunds(session, snapshot, now)
        await _outbox(session, snapshot, now)
        await _ledger(session, snapshot)
        await _fx(session, snapshot, now)
        await _compliance(session, snapshot)
        await _chains(session, snapshot, now)
    if runtime.redis is not None:
        async with _part(snapshot, "redis"):
            await _queues(runtime, snapshot)
    return snapshot


@contextlib.asynccontextmanager
async def _part(snapshot: Snapshot, dependency: str) -> AsyncIterator[None]:
    snapshot.up[dependency] = 1
    try:
        yield
    except Exception as exc:  # a scrape must answer even when a dependency is down
        snapshot.up[dependency] = 0
        log.warning("metrics_source_down", dependency=dependency, error=type(exc).__name__)


async def _payments(session: AsyncSession, snapshot: Snapshot, now: datetime) -> None:
    snapshot.payouts_by_state = await payments_queries.payout_counts_by_status(session=session)
    snapshot.oldest_unknown_payout_age = age_seconds(
        await payments_queries.oldest_unknown_payout_update(session=session), now
    )
    snapshot.collections_by_state = await payments_queries.collection_counts_by_status(session=session)


async def _rail_refunds(session: AsyncSession, snapshot: Snapshot, now: datetime) -> None:
    counts, oldest = await rails_queries.open_refund_counts(session=session)
    snapshot.rail_refunds_open = counts
    snapshot.oldest_open_rail_refund_age = age_seconds(oldest, now)
    by_state = await rails_queries.oldest_open_refund_by_state(session=session)
    snapshot.oldest_rail_refund_age_by_state = {k: age_seconds(v, now) for k, v in by_state.items()}


async def _outbox(session: AsyncSession, snapshot: Snapshot, now: datetime) -> None:
    backlog = await outbox_queries.backlog(session=session)
    snapshot.outbox_pending = backlog.pending
    snapshot.oldest_outbox_pending_age = age_seconds(backlog.oldest_created_at, now)


async def _ledger(session: AsyncSession, snapshot: Snapshot) -> None:
    held = await ledger_queries.float_held_minor(session=session)
    snapshot.float_minor = {(kind, asset): minor for (kind, asset), minor in held.items()}
    snapshot.owed_minor = await ledger_queries.customer_wallets_total_minor(session=session)


async def _fx(session: AsyncSession, snapshot: Snapshot, now: datetime) -> None:
    fetched = await fx_queries.last_fetch_per_pair(session=session)
    snapshot.fx_rate_age = {f"{base}/{quote}": age_seconds(at, now) for (base, quote), at in fetched.items()}


async def _compliance(session: AsyncSession, snapshot: Snapshot) -> None:
    snapshot.alerts_open = int(
        await session.scalar(select(func.count()).where(Alert.status == AlertStatus.OPEN.value)) or 0
    )
    rows = await session.execute(
        select(Case.status, func.count()).where(Case.status.in_(_OPEN_CASES)).group_by(Case.status)
    )
    snapshot.cases_open = {status: int(n) for status, n in rows.all()}


async def _chains(session: AsyncSession, snapshot: Snapshot, now: datetime) -> None:
    for cursor in (await session.scalars(select(ChainCursor))).all():
        snapshot.scanner_height[cursor.network] = int(cursor.height)
        snapshot.scanner_age[cursor.network] = age_seconds(cursor.updated_at, now)
        if cursor.tip_height is not None:
            snapshot.scanner_lag_blocks[cursor.network] = max(0, int(cursor.tip_height) - int(cursor.height))


async def _queues(runtime: Runtime, snapshot: Snapshot) -> None:
    redis = runtime.redis
    for raw in sorted(await redis.smembers("rq:queues")):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        name = key.removeprefix("rq:queue:")
        snapshot.queue_depth[name] = int(await redis.llen(key))
        snapshot.failed_jobs[name] = int(await redis.zcard(f"rq:failed:{name}"))
