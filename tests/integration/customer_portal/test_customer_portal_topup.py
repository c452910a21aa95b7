"""/app "Add money" (issue 22): a top-up by card or Airtel Money starts one PesaPal order and links
its payment page; an amount outside the range is refused beside the field with nothing written; a
resubmitted form makes no second order; the page speaks Swahili."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.flows.service import CoreFlows
from core.identity import service as identity
from core.rails.models import RailOrder
from core.runtime import Runtime
from tests.integration.customer_portal.test_customer_portal import (  # noqa: F401 (the rt fixture)
    PHONE,
    _client,
    _csrf,
    _sign_in,
    rt,
)


def _nonce(html: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def _orders(runtime: Runtime) -> list[RailOrder]:
    async with runtime.session_factory() as session:
        return list((await session.scalars(select(RailOrder).order_by(RailOrder.id))).all())


async def test_add_money_starts_one_order_and_links_its_payment_page(rt: Runtime) -> None:  # noqa: F811
    async with _client(rt) as client:
        await _sign_in(client, rt)
        assert 'href="/app/topup"' in (await client.get("/app/")).text
        form = await client.get("/app/topup")
        assert form.status_code == 200 and "card or Airtel Money" in form.text
        data = {"csrf_token": _csrf(form.text), "nonce": _nonce(form.text)}

        too_small = await client.post("/app/topup", data={**data, "amount": "9"})
        assert too_small.status_code == 422
        assert "between KES 10 and KES 250,000" in too_small.text and 'aria-invalid="true"' in too_small.text
        assert await _orders(rt) == []

        started = await client.post("/app/topup", data={**data, "amount": "1,200"})
        assert started.status_code == 200, started.text[:500]
        [order] = await _orders(rt)
        assert (order.purpose, order.rail, order.amount_minor) == ("topup", "pesapal", 120_000)
        assert f'href="/p/{order.link_code}"' in started.text and "Pay now" in started.text
        assert order.merchant_reference in started.text

        again = await client.post("/app/topup", data={**data, "amount": "1,200"})  # a double tap
        assert again.status_code == 200 and f'href="/p/{order.link_code}"' in again.text
        assert len(await _orders(rt)) == 1

        opened = await client.get(
            f"/p/{order.link_code}"
        )  # our short link answers (it waits, then redirects)
        assert opened.status_code < 500


async def test_add_money_in_swahili(rt: Runtime) -> None:  # noqa: F811
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=PHONE)
    assert customer is not None
    await CoreFlows(rt).set_language(customer_id=customer.id, language="sw")
    async with _client(rt) as client:
        await _sign_in(client, rt, PHONE)
        form = await client.get("/app/topup")
        assert "Weka pesa" in form.text and "kwa kadi au Airtel Money" in form.text
        data = {"csrf_token": _csrf(form.text), "nonce": _nonce(form.text)}
        refused = await client.post("/app/topup", data={**data, "amount": "300000"})
        assert refused.status_code == 422 and "Weka kiasi kati ya KES 10 na KES 250,000" in refused.text
        garbled = await client.post("/app/topup", data={**data, "amount": "abc"})
        assert garbled.status_code == 422 and 'aria-invalid="true"' in garbled.text
        assert await _orders(rt) == []
