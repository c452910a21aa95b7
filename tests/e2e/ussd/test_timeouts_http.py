"""Expired quotes, session timeout, resume and unclaimed sends over HTTP (PostgreSQL + Redis)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from core.clock import FixedClock
from core.flows import jobs
from core.runtime import Runtime
from tests.e2e.ussd.conftest import AtPhone, balance_of, funded, refresh_rates, registered


async def test_expired_quote_is_refused(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    clock = FixedClock(datetime.now(UTC))
    ussd_runtime.clock = clock
    await refresh_rates(ussd_runtime)
    phone = await funded(client, ussd_runtime, "+254712345678", "1", "10", "USDT-TRC20")
    await phone.menu("3", "3", "3")  # issue 19: sell an amount in the crypto
    assert "Valid 60s" in await phone.send("5")
    clock.advance(seconds=61)
    assert (await phone.send("4826")).startswith("END The price expired")
    assert await balance_of(ussd_runtime, phone.number, "USDT-TRC20") == "10.000000"


async def test_session_timeout_then_resume(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    await refresh_rates(ussd_runtime)
    phone = await registered(client, "+254712345678", "2")
    await phone.menu("2", "1")
    assert "Lipa KES 500.00" in await phone.send("500")
    await ussd_runtime.redis.delete(f"ussd:session:{phone.session_id}")  # what the 180 s TTL does
    assert (await phone.send("4826")).startswith("END Muda wa kikao umeisha")
    again = AtPhone(client, phone.number)
    assert "Endelea na ununuzi wa KES 500.00?" in await again.dial()
    assert "Lipa KES 500.00" in await again.send("1")  # a fresh quote
    assert (await again.send("4826")).startswith("END Idhinisha ombi la M-Pesa")
    assert "1 Salio" in await AtPhone(client, phone.number).dial()


async def test_unclaimed_send_returns_to_sender(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    clock = FixedClock(datetime.now(UTC))
    ussd_runtime.clock = clock
    phone = await funded(client, ussd_runtime, "+254712345678", "1", "300", "KES")
    await phone.dial()
    for value in ["4", "1", "0733444555", "1", "120"]:  # Send > to a phone number
        await phone.send(value)
    assert (await phone.send("4826")).startswith("END KES 120.00 is waiting")
    assert await balance_of(ussd_runtime, phone.number, "KES") == "180.00"
    assert await jobs.return_expired_claims() == 0
    clock.advance(days=7, seconds=1)
    assert await jobs.return_expired_claims() == 1
    assert await jobs.return_expired_claims() == 0
    assert await balance_of(ussd_runtime, phone.number, "KES") == "300.00"
