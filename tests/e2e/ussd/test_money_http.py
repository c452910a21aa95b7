"""Buy, sell and send over the USSD callback, on PostgreSQL + Redis, with demo rates."""

from __future__ import annotations

import httpx
import pytest

from core.flows import jobs
from core.flows.models import SendClaim
from core.payments.models import MpesaCollection, Payout
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import (
    balance_of,
    count_rows,
    deliver_sms,
    fund,
    funded,
    refresh_rates,
    registered,
    stk_paid,
)


async def test_buy_usdt_trc20_with_stk_push(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await registered(client, "+254712345678", "1")
    await phone.menu("2", "3")
    quote = await phone.send("1000")
    assert quote.startswith("CON Pay KES 1,000.00\nGet USDT") and "Enter PIN" in quote
    done = await phone.send("4826")
    assert done.startswith("END Approve the M-Pesa prompt on your phone to pay KES 1,000.00")
    assert (await phone.hop()).startswith(("END", "CON"))  # AT repeats the hop
    assert await count_rows(rt, MpesaCollection) == 1
    kwargs = await stk_paid(rt, checkout_request_id="ws_CO_1", receipt="SKT123ABC")
    assert await jobs.complete_buy(**kwargs) == "bought"
    assert await jobs.complete_buy(**kwargs) == "already"
    assert await balance_of(rt, phone.number, "KES") == "0.00"
    assert float(await balance_of(rt, phone.number, "USDT-TRC20")) > 0


async def test_sell_to_mpesa_in_swahili(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254712345678", "2", "50", "USDT-TRC20")
    await phone.dial()
    await phone.send("3")
    assert "Una USDT 50.00" in await phone.send("3")
    await phone.send("3")  # issue 19: sell an amount in the crypto
    assert "Salio halitoshi" in await phone.send("51")
    quote = await phone.send("20")
    assert quote.startswith("CON Uza USDT 20.00\nKwa M-Pesa KES")
    assert "PIN si sahihi" in await phone.send("1111")
    assert (await phone.send("4826")).startswith("END Imekamilika.")
    assert (await phone.hop()).startswith(("END", "CON"))
    assert await count_rows(rt, Payout) == 1
    assert await balance_of(rt, phone.number, "USDT-TRC20") == "30.000000"


async def test_send_kes_to_registered_and_unregistered(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)  # a crypto send is valued in KES for the limits: no fresh rate, no send
    alice = await funded(client, rt, "+254712345678", "1", "0.001", "BTC", "Alice Njeri")
    bob = await registered(client, "+254722000111", "2", "Bob Otieno")
    await alice.menu("4", "1")  # send menu: to a phone number
    await alice.send("0722000111")
    await alice.send("2")
    confirm = await alice.send("0.0004")
    assert "Bob Otieno 0722000111" in confirm
    assert (await alice.send("4826")).startswith(
        "END Sent BTC 0.000398 to Bob Otieno"
    )  # network fee 0.000002
    assert await balance_of(rt, bob.number, "BTC") == "0.00039800"
    await fund(rt, alice.number, "1000", "KES")
    await alice.menu("4", "1")  # send menu: to a phone number
    await alice.send("+254 722 000 111")
    await alice.send("1")
    assert "Send KES 250.00 to Bob Otieno" in await alice.send("250")
    assert (await alice.send("4826")).startswith("END Sent KES 250.00 to Bob Otieno")
    assert await balance_of(rt, bob.number, "KES") == "250.00"
    assert await balance_of(rt, alice.number, "KES") == "750.00"
    # to a number without an account: the claim waits, the number gets an SMS invitation
    await alice.menu("4", "1")  # send menu: to a phone number
    await alice.send("0733444555")
    await alice.send("1")
    confirm = await alice.send("100")
    assert "is not on Kibeti" in confirm and "\nFee KES " in confirm, confirm
    assert (await alice.send("4826")).startswith("END KES 100.00 is waiting for 0733444555 for 7 days")
    assert await count_rows(rt, SendClaim) == 1
    await deliver_sms(rt)
    [invite] = at_fake.messages_for("+254733444555")
    assert "Alice sent you KES 100.00" in invite.message
    carol = await registered(client, "+254733444555", "1", "Carol Akinyi")
    assert await balance_of(rt, carol.number, "KES") == "100.00"
    await deliver_sms(rt)
    assert any("umepokea KES 250.00 kutoka kwa Alice" in m.message for m in at_fake.messages_for(bob.number))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("1", "END We cannot check your limits right now (no current rate). Nothing was sent. Try again shortly."),
        ("2", "END Hatuwezi kukagua vikomo vyako sasa hivi (hakuna bei ya sasa). Hakuna kilichotumwa. Jaribu "
              "tena baada ya muda mfupi."),
    ],
)  # fmt: skip
async def test_a_crypto_send_with_no_fresh_rate_is_refused_try_again_shortly(
    client: httpx.AsyncClient, ussd_runtime: Runtime, language: str, expected: str
) -> None:
    """Its KES value for the limits needs the rate quotes use: without one the send is refused at the
    amount step, never checked against a zero or a stale value."""
    rt = ussd_runtime
    alice = await funded(client, rt, "+254712345678", language, "0.001", "BTC", "Alice Njeri")
    await registered(client, "+254722000111", "2", "Bob Otieno")
    await alice.menu("4", "1")  # send menu: to a phone number
    await alice.send("0722000111")
    await alice.send("2")
    assert await alice.send("0.0004") == expected
    assert await balance_of(rt, alice.number, "BTC") == "0.00100000"
