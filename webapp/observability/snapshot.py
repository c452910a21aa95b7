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
from core.fx.models import FxRate
from core.ledger import service as ledger_service
from core.ledger.models import Account, AccountKind, OwnerType
from core.money import Asset
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments.models import CollectionStatus, MpesaCollection, Payout, PayoutStatus
from core.runtime import Runtime
from wallets.models import ChainCursor
from webapp.observability.metrics import Snapshot, age_seconds

log = structlog.get_logger("kibeti.metrics")

_FLOAT_KINDS = (AccountKind.MPESA_FLOAT, AccountKind.CUSTODY)
_OPEN_CASES = tuple(s.value for s in CaseStatus if s is not CaseStatus.CLOSED)


async def take_snapshot(runtime: Runtime) -> Snapshot:
    snapshot = Snapshot()
    now = runtime.clock.now()
    async with _part(snapshot, "database"), runtime.session_factory() as session:
        await _payments(session, snapshot, now)
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
    rows = await session.execute(select(Payout.status, func.count()).group_by(Payout.status))
    snapshot.payouts_by_state = dict.fromkeys((s.value for s in PayoutStatus), 0)  # every state, even 0
    snapshot.payouts_by_state.update({status: int(n) for status, n in rows.all()})
    oldest = await session.scalar(
        select(func.min(Payout.updated_at)).where(Payout.status == PayoutStatus.UNKNOWN.value)
    )
    snapshot.oldest_unknown_payout_age = age_seconds(oldest, now)
    rows = await session.execute(
        select(MpesaCollection.status, func.count()).group_by(MpesaCollection.status)
    )
    snapshot.collections_by_state = dict.fromkeys((s.value for s in CollectionStatus), 0)
    snapshot.collections_by_state.update({status: int(n) for status, n in rows.all()})


async def _outbox(session: AsyncSession, snapshot: Snapshot, now: datetime) -> None:
    waiting = OutboxJob.status != OutboxStatus.DONE.value
    snapshot.outbox_pending = int(await session.scalar(select(func.count()).where(waiting)) or 0)
    snapshot.oldest_outbox_pending_age = age_seconds(
        await session.scalar(select(func.min(OutboxJob.created_at)).where(waiting)), now
    )


async def _ledger(session: AsyncSession, snapshot: Snapshot) -> None:
    system = await session.scalars(
        select(Account).where(
            Account.owner_type == OwnerType.SYSTEM.value,
            Account.kind.in_([k.value for k in _FLOAT_KINDS]),
        )
    )
    for account in system.all():
        amount = await ledger_service.balance(session=session, account_id=account.id)
        # the ledger is credit-normal: what Kibeti holds (on chain, on the shortcode) sits as a debit
        snapshot.float_minor[(account.kind, account.asset)] = -amount.minor
    rows = await session.execute(
        select(Account.asset, func.coalesce(func.sum(Account.balance), 0))
        .where(Account.owner_type == OwnerType.CUSTOMER.value, Account.kind == AccountKind.WALLET.value)
        .group_by(Account.asset)
    )
    snapshot.owed_minor = {asset: int(total) for asset, total in rows.all()}
    for asset in Asset:
        snapshot.owed_minor.setdefault(asset.value, 0)


async def _fx(session: AsyncSession, snapshot: Snapshot, now: datetime) -> None:
    rows = await session.execute(
        select(FxRate.base, FxRate.quote, func.max(FxRate.fetched_at)).group_by(FxRate.base, FxRate.quote)
    )
    snapshot.fx_rate_age = {f"{base}/{quote}": age_seconds(at, now) for base, quote, at in rows.all()}


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
