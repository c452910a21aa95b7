"""Reads of ledger accounts for pages, the API and operators' metrics (writes: service.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger import service
from core.ledger.models import Account, Hold, JournalEntry, Posting
from core.ledger.types import AccountKind, HoldStatus, OwnerType
from core.money import Asset

FLOAT_KINDS = (AccountKind.MPESA_FLOAT, AccountKind.CUSTODY)


async def float_held_minor(*, session: AsyncSession) -> dict[tuple[str, str], int]:
    """What Kibeti holds per (kind, asset) on its M-Pesa float and chain custody accounts, in minor
    units. The ledger is credit-normal: holdings sit as debits, so this is the balance negated."""
    accounts = await session.scalars(
        select(Account).where(
            Account.owner_type == OwnerType.SYSTEM.value,
            Account.kind.in_([k.value for k in FLOAT_KINDS]),
        )
    )
    held: dict[tuple[str, str], int] = {}
    for account in accounts.all():
        amount = await service.balance(session=session, account_id=account.id)
        held[(account.kind, account.asset)] = -amount.minor
    return held


async def customer_wallets_total_minor(*, session: AsyncSession) -> dict[str, int]:
    """The sum of every customer wallet's posted balance per asset (what Kibeti owes), every asset present."""
    rows = await session.execute(
        select(Account.asset, func.coalesce(func.sum(Account.balance), 0))
        .where(Account.owner_type == OwnerType.CUSTOMER.value, Account.kind == AccountKind.WALLET.value)
        .group_by(Account.asset)
    )
    totals = {asset: int(total) for asset, total in rows.all()}
    for asset in Asset:
        totals.setdefault(asset.value, 0)
    return totals


async def customer_wallets(*, session: AsyncSession, customer_id: int) -> Sequence[Account]:
    """A customer's wallet accounts, by asset."""
    statement = (
        select(Account)
        .where(
            Account.owner_type == OwnerType.CUSTOMER.value,
            Account.owner_id == customer_id,
            Account.kind == AccountKind.WALLET.value,
        )
        .order_by(Account.asset)
    )
    return (await session.scalars(statement)).all()


@dataclass(frozen=True)
class Volume:
    kind: str
    asset: str
    minor: int
    entries: int


async def volumes(*, session: AsyncSession, since: datetime) -> list[Volume]:
    """Money moved per entry kind and asset since `since`: each entry's credits (= its debits)."""
    rows = await session.execute(
        select(
            JournalEntry.kind,
            Posting.asset,
            func.sum(Posting.amount),
            func.count(func.distinct(JournalEntry.id)),
        )
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .where(JournalEntry.created_at >= since, Posting.amount > 0)
        .group_by(JournalEntry.kind, Posting.asset)
        .order_by(JournalEntry.kind, Posting.asset)
    )
    return [Volume(kind, asset, int(total or 0), int(n)) for kind, asset, total, n in rows.all()]


async def pending_hold_id(*, session: AsyncSession, idempotency_key: str) -> int | None:
    """The hold placed under this key if it is still pending (neither posted, voided nor expired)."""
    statement = select(Hold.id).where(
        Hold.idempotency_key == idempotency_key, Hold.status == HoldStatus.PENDING.value
    )
    return (await session.execute(statement)).scalar_one_or_none()
