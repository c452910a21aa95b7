"""An Airtel line's card / Airtel Money buy shows under USSD's Pending while the link is unpaid, and
leaves it once PesaPal's status confirms the payment."""

from __future__ import annotations

import httpx

from core.flows.service import CoreFlows
from core.identity import service as identity
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.pesapal.conftest import drain
from tests.e2e.pesapal.test_pesapal_journeys import AIRTEL, _buy_by_link, _pay
from tests.e2e.ussd.conftest import AtPhone


async def _kinds(rt: Runtime) -> list[str]:
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=AIRTEL)
    assert customer is not None
    return [line.kind for line in await CoreFlows(rt).pending(customer_id=customer.id)]


async def test_an_unpaid_link_is_pending_until_paid(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    link = await _buy_by_link(client, rt, at_fake)
    assert await _kinds(rt) == ["payment_link"]
    phone = AtPhone(client, AIRTEL)
    await phone.dial()
    statement = await phone.send("7")  # Statement & pending
    assert "Pending (1)" in statement, statement
    pending = await phone.send("1")
    assert "In KES 500.00 card/Airtel: pay on the SMS link" in pending, pending
    await _pay(client, link)
    await drain(rt)
    assert await _kinds(rt) == []
