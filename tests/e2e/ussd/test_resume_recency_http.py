"""Over HTTP (PostgreSQL + Redis): a dropped purchase is offered again on a redial soon after, not
once the Runtime's clock has moved past the offer window (the point is still in Redis then)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from channels.ussd.engine import RESUME_OFFER_SECONDS
from core.clock import FixedClock
from core.runtime import Runtime
from tests.e2e.ussd.conftest import AtPhone, refresh_rates, registered


async def _drop_a_purchase(phone: AtPhone) -> None:
    if "1 Yes" in await phone.dial():  # the earlier one offered: not this time
        await phone.send("2")
    await phone.send("2")
    await phone.send("1")
    assert "KES 500.00" in await phone.send("500")  # the network drops at the PIN prompt


async def test_a_dropped_purchase_is_offered_only_soon_after(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    clock = FixedClock(datetime.now(UTC))
    ussd_runtime.clock = clock
    await refresh_rates(ussd_runtime)
    phone = await registered(client, "+254712345678", "1")
    await _drop_a_purchase(phone)
    clock.advance(seconds=RESUME_OFFER_SECONDS - 10)
    assert "Continue your purchase of KES 500.00?" in await AtPhone(client, phone.number).dial()
    await _drop_a_purchase(AtPhone(client, phone.number))
    clock.advance(seconds=RESUME_OFFER_SECONDS + 1)
    again = await AtPhone(client, phone.number).dial()
    assert "Continue" not in again and "1 Balances" in again, again
