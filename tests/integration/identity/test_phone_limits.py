"""Per-phone limits on the shared Redis limiter (core.ratelimit), keyed by the number, not by a
channel session: wrong PINs, OTP requests, wrong codes and registration attempts counted on one
channel's process count on every other's (two runtimes stand for USSD and Telegram/web)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.config import Settings
from core.identity import otp as otps
from core.identity import service
from core.identity.errors import (
    InvalidPin,
    OtpInvalid,
    OtpTooManyRequests,
    PinIncorrect,
    PinLocked,
    TrivialPin,
)
from core.identity.models import Customer
from core.ratelimit import (
    OTP_SEND_PER_PHONE,
    OTP_VERIFY_PER_PHONE,
    PIN_PER_ACCOUNT,
    REGISTER_PER_PHONE,
    RateLimited,
    RateLimiter,
    RedisRateLimiter,
)
from core.runtime import Runtime
from tests.integration.identity.helpers import FakeNotifier
from webapp.queues import InProcessJobQueue

Factory = async_sessionmaker[AsyncSession]
PHONE = "+254712345678"


@pytest.fixture
async def channels(
    session_factory: Factory, redis_url: str
) -> AsyncIterator[tuple[Runtime, Runtime, FixedClock]]:
    """Two processes (say USSD and Telegram) sharing the database and Redis, each its own limiter."""
    clock = FixedClock()
    clients, runtimes = [], []
    for _ in range(2):
        client = redis.asyncio.Redis.from_url(redis_url)
        runtime = Runtime(settings=Settings(kibeti_env="test"), session_factory=session_factory, clock=clock,
                          queue=InProcessJobQueue(), redis=client)  # fmt: skip
        runtime.rate_limiter = RedisRateLimiter(client)
        clients.append(client)
        runtimes.append(runtime)
    yield runtimes[0], runtimes[1], clock
    for client in clients:
        await client.aclose()


async def _register(runtime: Runtime, clock: FixedClock, pin: str = "4821") -> Customer:
    async with runtime.session_factory() as session:
        customer = await service.register_customer(
            session=session,
            phone=PHONE,
            name="Amina",
            national_id="12345678",
            language="en",
            pin=pin,
            clock=clock,
            limiter=runtime.rate_limiter,
        )
        await session.commit()
    return customer


async def _try_pin(runtime: Runtime, clock: FixedClock, customer_id: int, pin: str) -> None:
    async with runtime.session_factory() as session:
        try:
            await service.verify_pin(
                session=session, limiter=runtime.rate_limiter, customer_id=customer_id, pin=pin, clock=clock
            )
        finally:
            await session.commit()


async def test_wrong_pins_on_one_channel_lock_the_number_on_another(channels) -> None:
    ussd, telegram, clock = channels
    customer = await _register(ussd, clock)
    for _ in range(PIN_PER_ACCOUNT.limit):
        with pytest.raises((PinIncorrect, PinLocked)):
            await _try_pin(ussd, clock, customer.id, "0000")
        clock.advance(days=2)  # each database lockout long over: only the hourly per-phone count remains
    with pytest.raises(PinLocked) as locked:
        await _try_pin(telegram, clock, customer.id, "4821")  # the right PIN, too late
    assert 0 < locked.value.retry_after <= PIN_PER_ACCOUNT.window


async def test_otp_requests_and_wrong_codes_are_limited_per_number(channels) -> None:
    ussd, telegram, clock = channels
    notifier = FakeNotifier()
    await _register(ussd, clock)

    async def issue(runtime: Runtime) -> str:
        async with runtime.session_factory() as session:
            await otps.issue_otp(
                session=session, notifier=notifier, limiter=runtime.rate_limiter,
                phone=PHONE, purpose="pin_reset", clock=clock,
            )  # fmt: skip
            await session.commit()
        return notifier.last_code()

    async def check(runtime: Runtime, code: str) -> None:
        async with runtime.session_factory() as session:
            try:
                await otps.verify_otp(
                    session=session, limiter=runtime.rate_limiter,
                    phone=PHONE, purpose="pin_reset", code=code, clock=clock,
                )  # fmt: skip
            finally:
                await session.commit()

    wrong = 0
    for _ in range(3):  # three codes, wrong guesses on both channels: 10 in all
        code = await issue(ussd)
        for runtime in (ussd, telegram, ussd, telegram)[: min(4, OTP_VERIFY_PER_PHONE.limit - wrong)]:
            bad = f"{(int(code) + 1) % 10**6:06d}"
            with pytest.raises(OtpInvalid):
                await check(runtime, bad)
            wrong += 1
    assert wrong == OTP_VERIFY_PER_PHONE.limit
    with pytest.raises(OtpTooManyRequests):
        await check(telegram, code)  # even the right code: the number is out of tries for now

    clock.advance(hours=2)  # the database's own hourly count is over; the shared one is not
    await issue(telegram)
    await issue(ussd)
    assert OTP_SEND_PER_PHONE.limit == 5
    with pytest.raises(OtpTooManyRequests):
        await issue(telegram)


async def test_registration_attempts_are_limited_per_number(channels) -> None:
    ussd, telegram, clock = channels
    for index in range(REGISTER_PER_PHONE.limit):
        with pytest.raises((InvalidPin, TrivialPin)):
            await _register((ussd, telegram)[index % 2], clock, pin="1234")
    with pytest.raises(RateLimited) as limited:
        await _register(telegram, clock)
    assert limited.value.code == "rate_limited" and limited.value.values["minutes"] >= 1


async def test_without_a_limiter_the_database_limits_still_hold(session_factory: Factory) -> None:
    """No limiter passed (a script, a fixture): nothing is counted per number, and the lockout on
    the customer row and the codes-per-hour cap read from the database still refuse."""
    clock = FixedClock()
    limiter: RateLimiter | None = None
    async with session_factory() as session:
        customer = await service.register_customer(
            session=session, phone=PHONE, name="Amina", national_id="12345678", language="en",
            pin="4821", clock=clock, limiter=limiter,
        )  # fmt: skip
        await session.commit()
    with pytest.raises(PinLocked):
        for _ in range(PIN_PER_ACCOUNT.limit):
            async with session_factory() as session:
                try:
                    await service.verify_pin(
                        session=session, limiter=limiter, customer_id=customer.id, pin="0000", clock=clock
                    )
                except PinIncorrect:
                    pass
                finally:
                    await session.commit()
    notifier = FakeNotifier()
    with pytest.raises(OtpTooManyRequests):
        for _ in range(otps.MAX_ISSUED_PER_HOUR + 1):
            async with session_factory() as session:
                await otps.issue_otp(
                    session=session, notifier=notifier, limiter=limiter,
                    phone=PHONE, purpose="pin_reset", clock=clock,
                )  # fmt: skip
                await session.commit()
