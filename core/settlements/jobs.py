"""Settlement jobs (module-level, ids in, idempotent): a credit's merchant SMS and instant
settlement, a settlement payout's end, and the daily batch."""

from __future__ import annotations

import logging

from core import runtime
from core.audit import service as audit
from core.merchants.models import Merchant, SettlementSchedule
from core.settlements import flows, notices, refunds
from core.settlements import settle as settling
from core.settlements.errors import UnknownSettlement
from core.settlements.models import MerchantCredit, SettlementStatus

log = logging.getLogger(__name__)


async def merchant_credited(credit_id: int) -> str:
    """SMS the merchant about a payment; settle it at once if the merchant settles instantly."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        credit = await session.get(MerchantCredit, credit_id)
        merchant = await session.get(Merchant, credit.merchant_id) if credit is not None else None
        if credit is None or merchant is None:
            return "unknown"
        text = notices.paid_text(merchant, credit, rt.clock.now(), rt.settings.settlement_daily_hour)
    await notices.send_to_merchant(rt, merchant, text, f"merchant-credit:{credit_id}")
    if merchant.settlement_schedule == SettlementSchedule.INSTANT.value:
        await flows.run_settlements(rt, merchant_id=merchant.id)
    return "sent"


async def settlement_finished(payout_id: str) -> str:
    """A settlement's payout is final: record it, SMS the merchant; a failure alerts staff."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        try:
            done = await settling.finish(session=session, payout_id=payout_id)
        except UnknownSettlement:
            return "not_a_settlement"
        settlement = done.settlement
        merchant = await session.get(Merchant, settlement.merchant_id)
        if done.changed and settlement.status == SettlementStatus.FAILED.value:
            log.error("settlement S%s of merchant %s failed: %s", settlement.id, settlement.merchant_id,
                      settlement.failure)  # fmt: skip
            await audit.record(
                session=session, actor="system", action="settlement.failed",
                subject=f"merchant:{settlement.merchant_id}",
                details={"settlement_id": settlement.id, "payout_id": payout_id,
                         "reason": settlement.failure},
                clock=rt.clock,
            )  # fmt: skip
        await session.commit()
        status = settlement.status
        text = notices.settlement_text(merchant, settlement) if merchant is not None else ""
    if merchant is not None and status != SettlementStatus.PAYING.value:
        await notices.send_to_merchant(rt, merchant, text, f"settlement:{settlement.id}:{status}")
    return status


async def daily_settlements() -> int:
    """The daily batch: at or after the set Nairobi hour, settle every daily merchant above their
    minimum (a second run the same day finds their balance held or paid: nothing twice)."""
    rt = runtime.get()
    if not settling.daily_due(rt.clock.now(), rt.settings.settlement_daily_hour):
        return 0
    return len(await flows.run_settlements(rt, schedule=SettlementSchedule.DAILY.value))


async def refund_withdrawal_final(withdrawal_id: int, outcome: str, txid: str) -> str:
    """A refund's withdrawal is final: refund.completed, or the merchant's KES back on failure."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        row = await refunds.withdrawal_final(
            session=session, withdrawal_id=withdrawal_id, outcome=outcome, txid=txid
        )
        await session.commit()
        return row.status if row is not None else "not_a_refund"
