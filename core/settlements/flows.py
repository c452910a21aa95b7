"""Use case: settle merchants (the CLI, the daily batch, instant settlement after a credit)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import KibetiError
from core.merchants.models import Merchant, MerchantStatus, SettlementSchedule
from core.runtime import Runtime
from core.settlements import settle as settling
from core.settlements.models import Settlement, SettlementStatus
from core.settlements.settle import NAIROBI

log = logging.getLogger(__name__)
MAX_CHUNKS = 20  # KES 5,000,000 a day per merchant through one run


def _batch_start(now: datetime, hour: int) -> datetime:
    """Today's daily batch time (Nairobi), in UTC."""
    local = (now + NAIROBI).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local - NAIROBI


async def _settled_today(session: AsyncSession, merchant_id: int, now: datetime, hour: int) -> bool:
    query = select(Settlement.id).where(
        Settlement.merchant_id == merchant_id,
        Settlement.created_at >= _batch_start(now, hour),
        Settlement.status != SettlementStatus.FAILED.value,
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none() is not None


async def run_settlements(
    rt: Runtime,
    *,
    merchant_id: int | None = None,
    schedule: str | None = None,
    force: bool = False,
) -> list[Settlement]:
    """Open a settlement for each active merchant (or one) whose balance is above its minimum.

    Each merchant in its own transaction: one merchant's bad destination never stops the others.
    The daily batch settles a merchant once per day; `force` (staff, the CLI) ignores the minimum."""
    async with rt.session_factory() as session:
        if merchant_id is not None:
            ids = [merchant_id]
        else:
            ids = [m.id for m in await settling.merchants_to_settle(session=session, schedule=schedule)]
    opened: list[Settlement] = []
    for mid in ids:
        async with rt.session_factory() as session:
            merchant = await session.get(Merchant, mid)
            if merchant is None or merchant.status != MerchantStatus.ACTIVE.value:
                continue
            daily = schedule == SettlementSchedule.DAILY.value
            hour = rt.settings.settlement_daily_hour
            if daily and await _settled_today(session, mid, rt.clock.now(), hour):
                continue
            for _chunk in range(MAX_CHUNKS):  # above M-Pesa's per-payment maximum: several payments
                try:
                    row = await settling.settle(
                        session=session, merchant=merchant, force=force, now=rt.clock.now()
                    )
                    await session.commit()
                except IntegrityError:  # another run opened the same settlement first: that one stands
                    await session.rollback()
                    break
                except KibetiError as exc:
                    log.error("merchant %s not settled: %s", mid, exc)
                    await session.rollback()
                    break
                if row is None:
                    break
                opened.append(row)
    return opened
