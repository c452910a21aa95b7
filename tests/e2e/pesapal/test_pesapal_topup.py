"""A KES top-up by card (the portal's "Add money" use case): refused at once outside the limits,
the link by SMS, credited once on PesaPal's status with the receipt SMS."""

from __future__ import annotations

import httpx
import pytest

from core.flows.errors import ServiceUnavailable
from core.identity import service as identity
from core.money import Asset, Money
from core.quotes.errors import AmountTooLarge, AmountTooSmall
from core.quotes.maths import Rail
from core.rails.topups import start_topup
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.pesapal.conftest import drain, only_order
from tests.e2e.ussd.conftest import balance_of

PHONE = "+254712000777"  # a Safaricom line choosing to pay by card


async def test_topup_by_card(client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking) -> None:
    async with rt.session_factory() as session:
        customer = await identity.register_customer(
            session=session, phone=PHONE, name="Njeri", national_id="34567777", language="sw", pin="4826"
        )
        await session.commit()
    with pytest.raises(AmountTooSmall):
        await start_topup(rt, customer_id=customer.id, amount=Money.of("9", Asset.KES), idempotency_key="t0")
    with pytest.raises(AmountTooLarge):
        await start_topup(
            rt, customer_id=customer.id, amount=Money.of("250001", Asset.KES), idempotency_key="t0"
        )
    receipt = await start_topup(
        rt, customer_id=customer.id, amount=Money.of("1200", Asset.KES), idempotency_key="t1"
    )
    again = await start_topup(
        rt, customer_id=customer.id, amount=Money.of("1200", Asset.KES), idempotency_key="t1"
    )
    assert receipt.status == "link" and again.reference == receipt.reference
    await drain(rt)
    sms = [m.message for m in at_fake.messages_for(PHONE)]
    assert any("kwa kadi au Airtel Money hapa" in m for m in sms), sms  # in the customer's language
    opened = await client.get(receipt.details["pay_at"])
    assert opened.status_code == 303
    await client.post(opened.headers["location"] + "/pay", data={"method": "card"})
    await drain(rt)
    assert (await only_order(rt)).status == "completed"
    assert await balance_of(rt, PHONE, "KES") == "1200.00"
    assert any("imeingia" in m or "zimeingia" in m for m in (x.message for x in at_fake.messages_for(PHONE)))
    with pytest.raises(ServiceUnavailable, match="top-ups"):
        await start_topup(rt, customer_id=customer.id, amount=Money.of("100", Asset.KES), idempotency_key="t2",
                          rail=Rail.MPESA)  # fmt: skip
