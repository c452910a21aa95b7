"""Roll up append-only postings on unconstrained system accounts into their stored balance.

Postings on fee, liquidity and float accounts are never applied in place (that would make those
accounts hot rows). This job folds them in. It only folds postings older than a safety lag, so a
transaction that took a posting id earlier but commits later is not skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger.models import Account, JournalEntry, Posting

SAFETY_LAG = timedelta(minutes=5)


async def rollup(*, session: AsyncSession, now: datetime) -> int:
    """Fold old postings into unconstrained balances; returns how many accounts moved."""
    horizon = (
        await session.execute(
            select(func.max(Posting.id))
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(JournalEntry.created_at < now - SAFETY_LAG)
        )
    ).scalar_one_or_none()
    if horizon is None:
        return 0
    moved = 0
    accounts = (await session.execute(select(Account).where(Account.constrained.is_(False)))).scalars().all()
    for account in accounts:
        delta = (
            await session.execute(
                select(func.coalesce(func.sum(Posting.amount), 0)).where(
                    Posting.account_id == account.id,
                    Posting.id > account.rolled_up_to,
                    Posting.id <= horizon,
                )
            )
        ).scalar_one()
        if account.rolled_up_to >= horizon:
            continue
        await session.execute(
            update(Account)
            .where(Account.id == account.id, Account.rolled_up_to == account.rolled_up_to)
            .values(balance=Account.balance + int(delta), rolled_up_to=horizon)
            .execution_options(synchronize_session=False)
        )
        moved += 1
    return moved
