"""Per-phone limits on the shared Redis limiter (core.ratelimit), keyed by the number, not by a
channel session: wrong PINs, OTP requests, wrong codes and registration attempts counted on one
channel's process count on every other's (two runtimes stand for USSD and Telegram/web)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
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
    previous = runtime_module._current
    yield runtimes[0], runtimes[1], clock
    runtime_module._current = previous
    for client in clients:
        await client.aclose()


async def _register(factory: Factory, clock: FixedClock, pin: str = "4821") -> Customer:
    async with factory() as session:
        customer = await service.register_customer(
            session=session,
            phone=PHONE,
            name="Amina",
            national_id="12345678",
            language="en",
            pin=pin,
            clock=clock,
        )
        await session.commit()
    return customer


async def _try_pin(factory: Factory, clock: FixedClock, customer_id: int, pin: str) -> None:
    async with factory() as session:
        try:
            await service.verify_pin(session=session, customer_id=customer_id, pin=pin, clock=clock)
        finally:
            await session.commit()


async def test_wrong_pins_on_one_channel_lock_the_number_on_another(channels) -> None:
    ussd, telegram, clock = channels
    runtime_module.install(ussd)
    customer = await _register(ussd.session_factory, clock)
    for _ in range(PIN_PER_ACCOUNT.limit):
        with pytest.raises((PinIncorrect, PinLocked)):
            await _try_pin(ussd.session_factory, clock, customer.id, "0000")
        clock.advance(days=2)  # each database lockout long over: only the hourly per-phone count remains
    runtime_module.install(telegram)
    with pytest.raises(PinLocked) as locked:
        await _try_pin(telegram.session_factory, clock, customer.id, "4821")  # the right PIN, too late
    assert 0 < locked.value.retry_after <= PIN_PER_ACCOUNT.window


async def test_otp_requests_and_wrong_codes_are_limited_per_number(channels) -> None:
    ussd, telegram, clock = channels
    notifier = FakeNotifier()
    runtime_module.install(ussd)
    await _register(ussd.session_factory, clock)

    async def issue(runtime: Runtime) -> str:
        runtime_module.install(runtime)
        async with runtime.session_factory() as session:
            await otps.issue_otp(
                session=session, notifier=notifier, phone=PHONE, purpose="pin_reset", clock=clock
            )
            await session.commit()
        return notifier.last_code()

    async def check(runtime: Runtime, code: str) -> None:
        runtime_module.install(runtime)
        async with runtime.session_factory() as session:
            try:
                await otps.verify_otp(
                    session=session, phone=PHONE, purpose="pin_reset", code=code, clock=clock
                )
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
        runtime_module.install((ussd, telegram)[index % 2])
        with pytest.raises((InvalidPin, TrivialPin)):
            await _register(ussd.session_factory, clock, pin="1234")
    runtime_module.install(telegram)
    with pytest.raises(RateLimited) as limited:
        await _register(telegram.session_factory, clock)
    assert limited.value.code == "rate_limited" and limited.value.values["minutes"] >= 1
