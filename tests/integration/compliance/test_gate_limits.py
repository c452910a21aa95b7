"""ComplianceGate.limits (core.ports): a customer's tier, its limits and what counts against them, read
without recording a movement; the numbers the gate itself enforces."""

from __future__ import annotations

from sqlalchemy import func, select

from compliance import kyc
from compliance.gate import ComplianceGateService
from compliance.models import Movement
from core.clock import FixedClock
from core.ports import CustomerLimits, MovementCheck
from tests.integration.compliance.helpers import kes


def send(customer: int, amount: str) -> MovementCheck:
    return MovementCheck(customer, "send", kes(amount), kes(amount), "+254700000001")


async def test_an_unknown_customer_is_t0_and_reading_records_nothing(factory, clock: FixedClock) -> None:
    limits = await ComplianceGateService(factory, clock).limits(41)
    assert limits == CustomerLimits(
        tier=0, kyc_status="none", per_transaction=kes("5000"), daily=kes("10000"), monthly=kes("50000"),
        balance=kes("20000"), crypto_withdrawal=kes("0"), used_today=kes("0"), used_this_month=kes("0"),
        next_step="verify_id",  # what raises an unverified customer's limits
    )  # fmt: skip
    async with factory() as session:
        assert (await session.execute(select(func.count()).select_from(Movement))).scalar_one() == 0
        assert await kyc.get_profile(session=session, customer_id=41) is None


async def test_used_today_and_this_month_count_what_the_gate_counts(factory, clock: FixedClock) -> None:
    gate = ComplianceGateService(factory, clock)
    assert (await gate.check(send(42, "4000"))).allowed
    assert not (await gate.check(send(42, "6000"))).allowed  # denied: does not use up the limits
    clock.advance(hours=13)  # past midnight in Nairobi
    assert (await gate.check(send(42, "1500.50"))).allowed
    limits = await gate.limits(42)
    assert (limits.used_today, limits.used_this_month) == (kes("1500.50"), kes("5500.50"))


async def test_tier_and_review_come_from_the_kyc_profile(factory, clock: FixedClock) -> None:
    async with factory() as session, session.begin():
        profile = await kyc.ensure_profile(session=session, customer_id=43, now=clock.now())
        profile.tier = 1
    gate = ComplianceGateService(factory, clock)
    limits = await gate.limits(43)
    assert (limits.tier, limits.kyc_status, limits.per_transaction) == (1, "verified", kes("250000"))
    assert limits.crypto_withdrawal == kes("130000")
    async with factory() as session, session.begin():
        profile = await kyc.ensure_profile(session=session, customer_id=43, now=clock.now())
        profile.t2_review = "pending"
    assert (await gate.limits(43)).kyc_status == "pending"
