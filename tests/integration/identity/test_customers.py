from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit.models import AuditEntry
from core.clock import FixedClock
from core.identity import flows, service
from core.identity import otp as otps
from core.identity.errors import (
    InvalidLanguage,
    NationalIdMismatch,
    OtpExpired,
    OtpInvalid,
    OtpTooManyRequests,
    PhoneAlreadyRegistered,
    PinIncorrect,
    PinLocked,
    TrivialPin,
    WithdrawalsCoolingDown,
)
from tests.integration.identity.helpers import FakeNotifier

Factory = async_sessionmaker[AsyncSession]


async def register(session: AsyncSession, phone: str = "0712345678") -> int:
    customer = await service.register_customer(
        session=session, phone=phone, name="Wanjiku", national_id="23456789", language="sw", pin="4821"
    )
    await session.commit()
    return customer.id


async def test_register_and_lookup_by_any_spelling(session_factory: Factory) -> None:
    async with session_factory() as session:
        customer_id = await register(session)
        found = await service.get_customer_by_phone(session=session, phone="+254 712-345-678")
        assert found is not None and found.id == customer_id
        assert (found.phone, found.language, found.kyc_tier, found.status) == (
            "+254712345678",
            "sw",
            0,
            "active",
        )
        assert found.pin_hash.startswith("$argon2id$")
        with pytest.raises(PhoneAlreadyRegistered):
            await register(session, "254712345678")


async def test_register_refuses_trivial_pin_and_bad_language(session_factory: Factory) -> None:
    async with session_factory() as session:
        with pytest.raises(TrivialPin):
            await service.register_customer(
                session=session, phone="0712345678", name="A", national_id=None, language="en", pin="5678"
            )
        with pytest.raises(InvalidLanguage):
            await service.register_customer(
                session=session, phone="0712345678", name="A", national_id=None, language="fr", pin="4821"
            )
        customer_id = await register(session)
        await service.set_language(session=session, customer_id=customer_id, language="en")
        with pytest.raises(InvalidLanguage):
            await service.set_language(session=session, customer_id=customer_id, language="de")


async def test_lockout_with_growing_back_off(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        customer_id = await register(session)
    for attempts_left in (2, 1):
        with pytest.raises(PinIncorrect) as wrong:
            await flows.check_pin(
                limiter=None,
                session_factory=session_factory,
                customer_id=customer_id,
                pin="1111",
                clock=clock,
            )
        assert wrong.value.attempts_left == attempts_left
    with pytest.raises(PinLocked) as locked:
        await flows.check_pin(
            limiter=None, session_factory=session_factory, customer_id=customer_id, pin="12ab", clock=clock
        )
    assert locked.value.retry_after == 300
    # While locked even the right PIN is refused, and it does not extend the lock.
    clock.advance(seconds=299)
    with pytest.raises(PinLocked) as still:
        await flows.check_pin(
            limiter=None, session_factory=session_factory, customer_id=customer_id, pin="4821", clock=clock
        )
    assert still.value.retry_after == 1
    clock.advance(seconds=2)
    with pytest.raises(PinLocked) as longer:
        await flows.check_pin(
            limiter=None, session_factory=session_factory, customer_id=customer_id, pin="0000", clock=clock
        )
    assert longer.value.retry_after == 600
    clock.advance(seconds=601)
    await flows.check_pin(
        limiter=None, session_factory=session_factory, customer_id=customer_id, pin="4821", clock=clock
    )
    async with session_factory() as session:
        customer = await service.get_customer(session=session, customer_id=customer_id)
        assert customer.pin_failed_count == 0 and customer.pin_locked_until is None
        actions = (await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))).scalars().all()
        assert actions.count("pin.locked") == 2


async def test_change_pin_needs_old_pin(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        customer_id = await register(session)
        with pytest.raises(PinIncorrect):
            await service.change_pin(
                limiter=None,
                session=session,
                customer_id=customer_id,
                old_pin="9999",
                new_pin="7395",
                clock=clock,
            )
        with pytest.raises(TrivialPin):
            await service.change_pin(
                limiter=None,
                session=session,
                customer_id=customer_id,
                old_pin="4821",
                new_pin="1234",
                clock=clock,
            )
        await service.change_pin(
            limiter=None,
            session=session,
            customer_id=customer_id,
            old_pin="4821",
            new_pin="7395",
            clock=clock,
        )
        await service.verify_pin(
            limiter=None, session=session, customer_id=customer_id, pin="7395", clock=clock
        )
        customer = await service.get_customer(session=session, customer_id=customer_id)
        service.assert_withdrawals_allowed(customer, clock=clock)  # a change is not a reset


async def test_reset_starts_24h_withdrawal_cool_down(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        customer_id = await register(session)
        customer = await service.get_customer(session=session, customer_id=customer_id)
        assert service.withdrawals_allowed_at(customer) is None
        await service.reset_pin(
            session=session, customer_id=customer_id, new_pin="7395", clock=clock, actor="staff:1"
        )
        await session.commit()
        assert service.withdrawals_allowed_at(customer) == clock.now() + timedelta(hours=24)
        with pytest.raises(WithdrawalsCoolingDown) as paused:
            service.assert_withdrawals_allowed(customer, clock=clock)
        assert paused.value.code == "withdrawals_cooldown"
        clock.advance(hours=23, minutes=59)
        with pytest.raises(WithdrawalsCoolingDown):
            service.assert_withdrawals_allowed(customer, clock=clock)
        clock.advance(minutes=1)
        service.assert_withdrawals_allowed(customer, clock=clock)


async def test_otp_single_use_expiry_and_attempts(session_factory: Factory) -> None:
    clock, notifier = FixedClock(), FakeNotifier()
    async with session_factory() as session:
        row = await otps.issue_otp(
            limiter=None,
            session=session,
            notifier=notifier,
            phone="0712345678",
            purpose="telegram_link",
            clock=clock,
        )
        code = notifier.last_code()
        assert notifier.sent[-1]["phone"] == "+254712345678" and code not in row.code_hash
        await otps.verify_otp(
            limiter=None, session=session, phone="0712345678", purpose="telegram_link", code=code, clock=clock
        )
        with pytest.raises(OtpExpired):  # single use
            await otps.verify_otp(
                limiter=None,
                session=session,
                phone="0712345678",
                purpose="telegram_link",
                code=code,
                clock=clock,
            )
        await otps.issue_otp(
            limiter=None,
            session=session,
            notifier=notifier,
            phone="0712345678",
            purpose="telegram_link",
            clock=clock,
        )
        code = notifier.last_code()
        clock.advance(minutes=5, seconds=1)
        with pytest.raises(OtpExpired):
            await otps.verify_otp(
                limiter=None,
                session=session,
                phone="0712345678",
                purpose="telegram_link",
                code=code,
                clock=clock,
            )
        await otps.issue_otp(
            limiter=None,
            session=session,
            notifier=notifier,
            phone="0712345678",
            purpose="portal_login",
            clock=clock,
        )
        code = notifier.last_code()
        wrong = "000000" if code != "000000" else "111111"
        for left in (4, 3, 2, 1):
            with pytest.raises(OtpInvalid) as invalid:
                await otps.verify_otp(
                    limiter=None,
                    session=session,
                    phone="0712345678",
                    purpose="portal_login",
                    code=wrong,
                    clock=clock,
                )
            assert invalid.value.attempts_left == left
        with pytest.raises(OtpInvalid):
            await otps.verify_otp(
                limiter=None,
                session=session,
                phone="0712345678",
                purpose="portal_login",
                code="abc",
                clock=clock,
            )
        with pytest.raises(OtpExpired):  # burnt after 5 attempts, even with the right code
            await otps.verify_otp(
                limiter=None,
                session=session,
                phone="0712345678",
                purpose="portal_login",
                code=code,
                clock=clock,
            )


async def test_otp_issue_is_rate_limited(session_factory: Factory) -> None:
    clock, notifier = FixedClock(), FakeNotifier()
    async with session_factory() as session:
        for _ in range(otps.MAX_ISSUED_PER_HOUR):
            await otps.issue_otp(
                limiter=None,
                session=session,
                notifier=notifier,
                phone="0712345678",
                purpose="pin_reset",
                clock=clock,
            )
            clock.advance(minutes=1)
        with pytest.raises(OtpTooManyRequests) as limited:
            await otps.issue_otp(
                limiter=None,
                session=session,
                notifier=notifier,
                phone="0712345678",
                purpose="pin_reset",
                clock=clock,
            )
        assert limited.value.retry_after > 0


async def test_self_service_reset_with_otp_and_national_id(session_factory: Factory) -> None:
    clock, notifier = FixedClock(), FakeNotifier()
    async with session_factory() as session:
        customer_id = await register(session)
        await otps.issue_otp(
            limiter=None,
            session=session,
            notifier=notifier,
            phone="0712345678",
            purpose="pin_reset",
            clock=clock,
        )
        with pytest.raises(NationalIdMismatch):
            await flows.reset_pin_with_otp(
                limiter=None,
                session=session,
                phone="0712345678",
                otp=notifier.last_code(),
                national_id="999",
                new_pin="7395",
                clock=clock,
            )
        await otps.issue_otp(
            limiter=None,
            session=session,
            notifier=notifier,
            phone="0712345678",
            purpose="pin_reset",
            clock=clock,
        )
        customer = await flows.reset_pin_with_otp(
            limiter=None,
            session=session,
            phone="0712345678",
            otp=notifier.last_code(),
            national_id="23456789",
            new_pin="7395",
            clock=clock,
        )
        assert customer.id == customer_id
        with pytest.raises(WithdrawalsCoolingDown):
            service.assert_withdrawals_allowed(customer, clock=clock)
