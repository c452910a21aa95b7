"""The daily batch (core.settlements.jobs.daily_settlements): nothing before the set Nairobi hour;
after it, each daily merchant above its minimum is settled once that day; the next day again;
instant merchants are not part of it."""

from __future__ import annotations

from datetime import UTC, datetime

from core import runtime as runtime_module
from core.clock import FixedClock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.merchants import service as merchants
from core.money import Asset, Money
from core.settlements import jobs
from core.settlements.service import credit_kibeti_payment
from tests.integration.identity.api_helpers import make_runtime

KES = Asset.KES


async def _sale(factory, merchant_id: int, key: str, amount: int) -> None:
    async with factory() as session:
        merchant = await merchants.get_merchant(session=session, merchant_id=merchant_id)
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=6060, asset=KES
        )
        source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        money = Money.of(amount, KES)
        await ledger.post_entry(
            session=session, idempotency_key=f"batch:fund:{key}", kind="test_funding",
            postings=[PostingRequest(source.id, -money), PostingRequest(wallet.id, money)],
        )  # fmt: skip
        await credit_kibeti_payment(
            session=session, merchant=merchant, payment_key=f"batch:{key}", reference="", customer_id=6060,
            from_account_id=wallet.id, amount=money, paid=money, payer="",
        )  # fmt: skip
        await session.commit()


async def test_once_a_day_after_the_nairobi_hour(session_factory) -> None:
    clock = FixedClock(datetime(2026, 12, 5, 13, 30, tzinfo=UTC))  # 16:30 in Nairobi
    async with session_factory() as session:
        daily = await merchants.create_merchant(
            session=session, name="Duka la Jioni", actor="t", clock=clock, settlement_method="till",
            settlement_till="5554444", settlement_schedule="daily", settlement_minimum="100",
        )  # fmt: skip
        instant = await merchants.create_merchant(
            session=session, name="Duka la Haraka", actor="t", clock=clock, settlement_method="till",
            settlement_till="5555555", settlement_schedule="instant",
        )  # fmt: skip
        daily.status = instant.status = "active"
        daily_id, instant_id = daily.id, instant.id
        await session.commit()
    rt = make_runtime(session_factory, clock)
    runtime_module.install(rt)
    await _sale(session_factory, daily_id, "d1", 500)
    await _sale(session_factory, instant_id, "i1", 500)
    assert await jobs.daily_settlements() == 0  # before 17:00 Nairobi
    clock.advance(minutes=31)  # 17:01
    assert await jobs.daily_settlements() == 1  # the daily merchant only
    await _sale(session_factory, daily_id, "d2", 700)
    assert await jobs.daily_settlements() == 0  # once a day: today's batch has run
    clock.advance(days=1)
    assert await jobs.daily_settlements() == 1  # tomorrow's batch takes the evening's sale
    await _sale(session_factory, daily_id, "d3", 50)
    clock.advance(days=1)
    assert await jobs.daily_settlements() == 0  # KES 49.25 is below the merchant's KES 100 minimum
