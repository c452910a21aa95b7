"""Settle a merchant's balance to M-Pesa through the payout pipeline, and record how it ended.

One settlement is one payout (hold on the merchant's KES account + row + outbox job, in the
caller's transaction): B2B BusinessBuyGoods to a till, B2B BusinessPayBill with the account
reference to a paybill, B2C to a phone. Whole shillings of the available balance are sent; the
cents stay. The payout's id is its OriginatorConversationID, so M-Pesa refuses a second send; a
failed payout voids its hold (the funds are back on the balance) and releases the credits it covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.merchants.models import Merchant, MerchantStatus, SettlementMethod, SettlementSchedule
from core.money import Asset, Money
from core.payments import limits as mpesa
from core.payments import service as payments
from core.payments.models import Payout, PayoutStatus
from core.settlements.errors import InvalidDestination, UnknownSettlement
from core.settlements.models import MerchantCredit, Settlement, SettlementStatus
from core.settlements.service import (
    merchant_account_id,
    merchant_balance,
    stage_monitoring,
    unsettled_credits,
)
from core.webhooks.events import record_event

NAIROBI = timedelta(hours=3)


def _kes(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def public(row: Settlement) -> dict[str, object]:
    """A settlement as the merchant API and webhooks show it."""
    return {
        "id": f"S{row.id}", "status": row.status, "method": row.method, "destination": row.destination,
        "account_reference": row.account_reference, "gross": _kes(row.gross_minor),
        "fee": _kes(row.fee_minor), "refunds": _kes(row.refunds_minor), "amount": _kes(row.amount_minor),
        "currency": "KES", "mpesa_receipt": row.receipt, "failure": row.failure,
    }  # fmt: skip


async def _announce(session: AsyncSession, row: Settlement, event_type: str) -> None:
    """settlement.created / .paid / .failed to the merchant's webhooks, in this transaction."""
    await record_event(
        session, merchant_id=row.merchant_id, event_type=event_type, object_id=f"S{row.id}",
        payload=public(row), idempotency_key=f"{event_type}:S{row.id}",
    )  # fmt: skip


B2B_ACCOUNT_REFERENCE_MAX = 13


@dataclass(frozen=True)
class Destination:
    method: str  # till | paybill | phone
    party: str  # the till, the paybill, or the 12-digit MSISDN
    account_reference: str = ""

    @property
    def payout_kind(self) -> str:
        return "b2c" if self.method == SettlementMethod.PHONE.value else "b2b"

    def label(self) -> str:
        """How SMS and statements name it: "till 123456", "paybill 888880 acc 12", "M-Pesa 0712..."."""
        if self.method == SettlementMethod.TILL.value:
            return f"till {self.party}"
        if self.method == SettlementMethod.PAYBILL.value:
            return f"paybill {self.party}"
        return f"M-Pesa 0{self.party[3:]}" if self.party.startswith("254") else f"M-Pesa {self.party}"


def destination_of(merchant: Merchant) -> Destination:
    method = merchant.settlement_method
    if method == SettlementMethod.TILL.value and merchant.settlement_till.isdigit():
        return Destination(method, merchant.settlement_till)
    if method == SettlementMethod.PAYBILL.value and merchant.settlement_paybill.isdigit():
        reference = merchant.settlement_account.strip()[:B2B_ACCOUNT_REFERENCE_MAX]
        if reference:
            return Destination(method, merchant.settlement_paybill, reference)
    if method == SettlementMethod.PHONE.value and merchant.settlement_phone:
        return Destination(method, mpesa.msisdn(merchant.settlement_phone))
    raise InvalidDestination(f"merchant {merchant.id} has no usable {method} settlement destination")


async def _opened(session: AsyncSession, merchant_id: int) -> int:
    query = select(func.count()).where(Settlement.merchant_id == merchant_id)
    return int((await session.execute(query)).scalar_one())


async def settle(
    *, session: AsyncSession, merchant: Merchant, force: bool = False, now: datetime | None = None
) -> Settlement | None:
    """Open one settlement of the merchant's available balance (whole shillings, at most M-Pesa's
    KES 250,000 per payment: `run_settlements` opens the next for the rest), or None when it is
    below the merchant's minimum (M-Pesa's minimum always applies; `force` ignores the merchant's).
    Run again over the same balance it finds it held, and opens nothing."""
    available = await merchant_balance(session, merchant.id)
    whole = available.whole_units()
    minimum = max(Money.from_minor(merchant.settlement_minimum_minor, Asset.KES), mpesa.B2C_MIN)
    if whole < (mpesa.B2C_MIN if force else minimum):
        return None
    whole = min(whole, mpesa.TXN_MAX)
    destination = destination_of(merchant)
    credits = await unsettled_credits(session, merchant.id)
    # The merchant's n-th settlement: two runs at once open it once (the loser's insert conflicts)
    key = f"settlement:{merchant.id}:{await _opened(session, merchant.id) + 1}"
    existing = (
        await session.execute(select(Settlement).where(Settlement.idempotency_key == key))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    payout = await payments.create_payout(
        session=session,
        idempotency_key=key,
        account_id=await merchant_account_id(session, merchant.id),
        phone=destination.party,
        amount=whole,
        merchant_id=merchant.id,
        remarks=f"Kibeti settlement M{merchant.id}",
        kind=destination.payout_kind,
        receiver_kind=destination.method if destination.payout_kind == "b2b" else "",
        account_reference=destination.account_reference or f"KIBETI{merchant.id}",
    )
    row = Settlement(
        merchant_id=merchant.id,
        idempotency_key=key,
        status=SettlementStatus.PAYING.value,
        method=destination.method,
        destination=destination.party,
        account_reference=destination.account_reference,
        gross_minor=sum(c.gross_minor for c in credits),
        fee_minor=sum(c.fee_minor for c in credits),
        refunds_minor=sum(c.refunded_minor for c in credits),
        amount_minor=payout.amount_minor,
        payout_id=payout.id,
        failure="",
        created_at=now or clock_of(session).now(),
    )
    session.add(row)
    await session.flush()
    if credits:
        await session.execute(
            update(MerchantCredit)
            .where(MerchantCredit.id.in_([c.id for c in credits]), MerchantCredit.settlement_id.is_(None))
            .values(settlement_id=row.id)
            .execution_options(synchronize_session=False)
        )
    await _announce(session, row, "settlement.created")
    await stage_monitoring(session, merchant.id, f"settlement:{row.id}")
    return row


@dataclass(frozen=True)
class Finished:
    settlement: Settlement
    changed: bool  # False: it was already final (a repeated job)


async def finish(*, session: AsyncSession, payout_id: str) -> Finished:
    """The payout is final: mark the settlement paid (with the M-Pesa receipt) or failed. A failed
    one releases its credits for the next settlement and flags the payout for staff."""
    row = (
        await session.execute(select(Settlement).where(Settlement.payout_id == payout_id))
    ).scalar_one_or_none()
    if row is None:
        raise UnknownSettlement(f"no settlement paid by payout {payout_id}")
    if row.status != SettlementStatus.PAYING.value:
        return Finished(row, changed=False)
    payout = await payments.get_payout(session=session, payout_id=payout_id, lock=True)
    if payout.status == PayoutStatus.SUCCEEDED.value:
        row.status, row.receipt = SettlementStatus.PAID.value, payout.receipt
    elif payout.status == PayoutStatus.FAILED.value:
        row.status = SettlementStatus.FAILED.value
        row.failure = f"{payout.result_code or ''} {payout.result_desc or ''}".strip()[:255]
        await session.execute(
            update(MerchantCredit)
            .where(MerchantCredit.settlement_id == row.id)
            .values(settlement_id=None)
            .execution_options(synchronize_session=False)
        )
        payout.flagged = True
        payout.flag_reason = f"merchant {row.merchant_id} settlement failed: funds returned"[:255]
    else:
        return Finished(row, changed=False)
    row.finished_at = clock_of(session).now()
    await _announce(session, row, f"settlement.{row.status}")
    return Finished(row, changed=True)


async def get_settlement(
    *, session: AsyncSession, settlement_id: int, merchant_id: int | None = None
) -> Settlement:
    row = await session.get(Settlement, settlement_id)
    if row is None or (merchant_id is not None and row.merchant_id != merchant_id):
        raise UnknownSettlement(f"no settlement {settlement_id}")
    return row


async def list_settlements(
    *, session: AsyncSession, merchant_id: int, before_id: int | None = None, limit: int = 50
) -> list[Settlement]:
    query = select(Settlement).where(Settlement.merchant_id == merchant_id)
    if before_id is not None:
        query = query.where(Settlement.id < before_id)
    return list((await session.execute(query.order_by(Settlement.id.desc()).limit(limit))).scalars())


async def credits_of(*, session: AsyncSession, settlement_id: int) -> list[MerchantCredit]:
    query = (
        select(MerchantCredit)
        .where(MerchantCredit.settlement_id == settlement_id)
        .order_by(MerchantCredit.id)
    )
    return list((await session.execute(query)).scalars())


async def payout_of(*, session: AsyncSession, settlement: Settlement) -> Payout:
    return await payments.get_payout(session=session, payout_id=settlement.payout_id)


def daily_due(now: datetime, hour: int) -> bool:
    """Whether the daily batch may run: it is `hour`:00 or later in Nairobi today."""
    local = now + NAIROBI
    return local.time() >= time(hour=hour)


async def merchants_to_settle(*, session: AsyncSession, schedule: str | None = None) -> list[Merchant]:
    query = select(Merchant).where(Merchant.status == MerchantStatus.ACTIVE.value)
    if schedule is not None:
        query = query.where(Merchant.settlement_schedule == schedule)
    return list((await session.execute(query.order_by(Merchant.id))).scalars())


__all__ = [
    "Destination",
    "Finished",
    "SettlementSchedule",
    "credits_of",
    "daily_due",
    "destination_of",
    "finish",
    "get_settlement",
    "list_settlements",
    "merchants_to_settle",
    "payout_of",
    "settle",
]
