"""The acceptance tester's USSD findings over HTTP, with the real flows, PostgreSQL and Redis."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tests.e2e.ussd.conftest import AtPhone, funded, refresh_rates, registered


async def test_buy_minimum_demo_label_tries_left_and_lock(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    await refresh_rates(ussd_runtime)  # the demo rate source, as the embedded default uses
    phone = await registered(client, "+254712345678", "1")
    await phone.menu("2", "3")
    assert "The minimum is KES 10.00" in await phone.send("5")
    quote = await phone.send("500")
    assert "(DEMO)" in quote and "Enter PIN" in quote, quote
    assert "Wrong PIN. 2 tries left." in await phone.send("1111")
    assert "Wrong PIN. 1 try left" in await phone.send("2222")
    locked = await phone.send("3333")
    assert locked.startswith("END PIN locked") and "Try again in 5 min." in locked, locked
    assert "Continue" not in await AtPhone(client, phone.number).dial()  # no resume after the lock


async def test_sell_under_the_payout_minimum_and_swahili_quote(
    client: httpx.AsyncClient, ussd_runtime: Runtime
) -> None:
    await refresh_rates(ussd_runtime)
    phone = await funded(client, ussd_runtime, "+254712345678", "2", "10", "USDT-TRC20")
    await phone.menu("3", "3", "3")  # issue 19: sell an amount in the crypto
    assert "M-Pesa hulipa angalau KES 10.00" in await phone.send("0.01")
    quote = await phone.send("5")
    assert "(MAJARIBIO)" in quote and "\nMuda sek " in quote, quote
    assert "Majaribio yaliyobaki: 2" in await phone.send("1111")
