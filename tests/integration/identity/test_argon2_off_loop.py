"""Argon2id runs in worker threads, never on the event loop's thread (it would stall every request
the process serves): PIN hashing at registration, change and reset, PIN checks, OTP codes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.identity import otp as otps
from core.identity import pin as pins
from core.identity import service
from tests.integration.identity.helpers import FakeNotifier

Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
def argon2_threads(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The thread each Argon2 call ran on, by function."""
    seen: dict[str, list[int]] = {}

    def recording(module: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(module, name)

        def wrapper(*args: Any) -> Any:
            seen.setdefault(name, []).append(threading.get_ident())
            return real(*args)

        monkeypatch.setattr(module, name, wrapper)

    for module in (pins, otps):
        recording(module, "hash_secret")
        recording(module, "verify_secret")
    return seen


async def test_pins_and_otps_are_hashed_and_checked_off_the_loop(
    session_factory: Factory, argon2_threads: dict[str, list[int]]
) -> None:
    loop_thread = threading.get_ident()
    clock, notifier = FixedClock(), FakeNotifier()
    async with session_factory() as session:
        customer = await service.register_customer(
            session=session, phone="0712345678", name="Wanjiku", national_id="23456789", language="sw", pin="4821"
        )  # fmt: skip
        await service.verify_pin(
            limiter=None, session=session, customer_id=customer.id, pin="4821", clock=clock
        )
        await service.change_pin(
            limiter=None,
            session=session,
            customer_id=customer.id,
            old_pin="4821",
            new_pin="7395",
            clock=clock,
        )
        await service.reset_pin(
            session=session, customer_id=customer.id, new_pin="5820", clock=clock, actor="test"
        )
        await otps.issue_otp(
            limiter=None,
            session=session,
            notifier=notifier,
            phone="0712345678",
            purpose="pin_reset",
            clock=clock,
        )
        await otps.verify_otp(
            limiter=None, session=session, phone="0712345678", purpose="pin_reset", code=notifier.last_code(), clock=clock
        )  # fmt: skip
        await session.commit()
    assert len(argon2_threads["hash_secret"]) == 4  # registration, change, reset, OTP
    assert len(argon2_threads["verify_secret"]) == 3  # verify, change (old PIN), OTP
    assert loop_thread not in argon2_threads["hash_secret"] + argon2_threads["verify_secret"]
