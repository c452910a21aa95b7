"""An Airtel line buys USDT-TRC20 over USSD, pays on the simulated PesaPal page and is credited
once; IPNs are only hints (duplicated, late, missing, forged); a reversal after the credit."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import func, select

from core.ledger.models import JournalEntry
from core.rails.models import OrderStatus, RailNotice
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.pesapal.conftest import drain, only_order, sim
from tests.e2e.ussd.conftest import AtPhone, balance_of, refresh_rates
from tests.e2e.ussd.test_journeys_http import _register

AIRTEL = "+254733000001"


def texts(at_fake: FakeAfricasTalking) -> list[str]:
    return [m.message for m in at_fake.messages_for(AIRTEL)]


async def _buy_by_link(client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking) -> str:
    """Register the Airtel line, buy USDT-TRC20 for KES 500; returns the payment link from the SMS."""
    await refresh_rates(rt)
    phone = AtPhone(client, AIRTEL)
    await _register(phone, "1")
    await phone.dial()
    await phone.send("2")  # Buy
    amount_screen = await phone.send("3")  # USDT-TRC20 (no KES balance: straight to the amount)
    assert "card or Airtel Money" in amount_screen and "M-Pesa" not in amount_screen, amount_screen
    quote = await phone.send("500")
    assert quote.startswith("CON Pay KES 500.00\nGet USDT") and "Fee KES 17.50" in quote, quote
    done = await phone.send("4826")
    assert done.startswith("END We sent you an SMS with a link to pay KES 500.00 by card or Airtel Money"), (
        done
    )
    await drain(rt)  # submit the order to PesaPal, then the SMS with the link
    [sms] = [m for m in texts(at_fake) if "by card or Airtel Money here" in m]
    link = sms.split("here: ")[1].split(" ")[0]
    assert link == f"http://testserver/p/{(await only_order(rt)).link_code}", sms
    return link


async def _pay(client: httpx.AsyncClient, link: str, *, action: str = "pay", method: str = "airtel") -> str:
    """The customer opens the short link, lands on PesaPal's (simulated) page and presses a button."""
    opened = await client.get(link)
    assert opened.status_code == 303
    page = await client.get(opened.headers["location"])
    assert page.status_code == 200 and "SIMULATOR" in page.text and "Airtel Money" in page.text
    pressed = await client.post(f"{opened.headers['location']}/{action}", data={"method": method})
    assert pressed.status_code == 303  # back to our return page
    back = await client.get(pressed.headers["location"])
    assert back.status_code == 200 and "confirming your payment" in back.text
    return opened.headers["location"].rsplit("/", 1)[1]


async def _entries(rt: Runtime, kind: str) -> int:
    async with rt.session_factory() as session:
        return int(
            (await session.execute(select(func.count()).where(JournalEntry.kind == kind))).scalar_one()
        )


async def test_airtel_buy_by_link_is_credited_once_with_a_receipt(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    from webapp.observability.metrics import RAIL_ORDERS

    completed = RAIL_ORDERS.labels("pesapal", "completed")
    before = completed._value.get()
    link = await _buy_by_link(client, rt, at_fake)
    sim(rt).behaviour.ipn = "twice"  # PesaPal sometimes notifies more than once
    tracking = await _pay(client, link)
    await drain(rt)
    assert completed._value.get() == before + 1  # /metrics: kibeti_rail_orders_total
    order = await only_order(rt)
    assert order.status == OrderStatus.COMPLETED.value and order.tracking_id == tracking
    assert order.method == "AirtelKE" and order.confirmation
    assert await _entries(rt, "pesapal_collection") == 1
    assert await _entries(rt, "quote_buy") == 1
    assert Decimal(await balance_of(rt, AIRTEL, "KES")) == 0
    assert Decimal(await balance_of(rt, AIRTEL, "USDT-TRC20")) > 0
    receipts = [m for m in texts(at_fake) if m.startswith("Kibeti: you bought USDT")]
    assert len(receipts) == 1 and "Paid by Airtel Money" in receipts[0], receipts
    # a forged IPN for the same order credits nothing more (our status query says COMPLETED: a duplicate)
    forged = await client.get(
        "/pesapal/ipn",
        params={"OrderTrackingId": tracking, "OrderMerchantReference": order.merchant_reference,
                "OrderNotificationType": "IPNCHANGE"},
    )  # fmt: skip
    assert forged.json() == {"orderNotificationType": "IPNCHANGE", "orderTrackingId": tracking,
                             "orderMerchantReference": order.merchant_reference, "status": 200}  # fmt: skip
    await drain(rt)
    assert await _entries(rt, "pesapal_collection") == 1 and await _entries(rt, "quote_buy") == 1
    assert len([m for m in texts(at_fake) if m.startswith("Kibeti: you bought")]) == 1


async def test_ipn_for_an_order_we_never_made_is_refused_and_flagged(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    body = {
        "OrderTrackingId": "forged-1",
        "OrderMerchantReference": "KBT-NOPE",
        "OrderNotificationType": "IPNCHANGE",
    }
    answer = await client.post("/pesapal/ipn", json=body)
    assert answer.status_code == 200 and answer.json()["status"] == 500
    async with rt.session_factory() as session:
        notice = (await session.execute(select(RailNotice))).scalar_one()
    assert notice.order_id is None and notice.tracking_id == "forged-1"


async def test_missing_ipn_and_an_ipn_that_says_nothing(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    link = await _buy_by_link(client, rt, at_fake)
    order = await only_order(rt)
    assert order.tracking_id is not None
    # an IPN before any payment: our status query says INVALID, nothing moves
    await client.post(f"/pesapal-sim/simulator/orders/{order.tracking_id}/ipn")
    await drain(rt)
    assert (await only_order(rt)).status == OrderStatus.PENDING.value
    sim(rt).behaviour.ipn = "never"  # paid, and PesaPal never tells us: the reconciler asks
    await _pay(client, link, method="card")
    from core.rails import jobs

    await jobs.confirm_order((await only_order(rt)).id)  # what a reconciler pass stages
    await drain(rt)
    assert (await only_order(rt)).status == OrderStatus.COMPLETED.value
    assert await _entries(rt, "pesapal_collection") == 1


async def test_status_that_disagrees_with_the_order_is_flagged_not_credited(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    link = await _buy_by_link(client, rt, at_fake)
    order = await only_order(rt)
    await client.post(f"/pesapal-sim/simulator/orders/{order.tracking_id}/disagree", json={"amount": "5.00"})
    await _pay(client, link)
    await drain(rt)
    flagged = await only_order(rt)
    assert flagged.status == OrderStatus.FLAGGED.value and "amount" in flagged.flag_reason
    assert await _entries(rt, "pesapal_collection") == 0 and await _entries(rt, "quote_buy") == 0


async def test_failed_payment_credits_nothing_and_says_so(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    link = await _buy_by_link(client, rt, at_fake)
    await _pay(client, link, action="fail")
    await drain(rt)
    assert (await only_order(rt)).status == OrderStatus.FAILED.value
    assert await _entries(rt, "pesapal_collection") == 0
    assert any("was not completed" in m for m in texts(at_fake))


async def test_reversal_after_credit_takes_it_back_and_opens_a_case(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    from compliance.models import Case

    link = await _buy_by_link(client, rt, at_fake)
    tracking = await _pay(client, link)
    await drain(rt)
    sim(rt).behaviour.ipn = "late"
    sim(rt).behaviour.late_s = 0.2
    await client.post(f"/pesapal-sim/simulator/orders/{tracking}/reverse")
    await drain(rt)
    order = await only_order(rt)
    assert order.status == OrderStatus.REVERSED.value and order.reversal_entry_id is not None
    assert await _entries(rt, "pesapal_reversal") == 1
    # the KES had bought crypto already: all of it is owed (suspense), staff recover it through the case
    assert "KES 500.00 owed" in order.flag_reason
    async with rt.session_factory() as session:
        case = (await session.execute(select(Case))).scalar_one()
    assert order.merchant_reference in case.title and case.priority == "high"
    assert any("PesaPal reversed your payment of KES 500.00" in m for m in texts(at_fake))
    await client.post(f"/pesapal-sim/simulator/orders/{tracking}/ipn")  # again: nothing more
    await drain(rt)
    assert await _entries(rt, "pesapal_reversal") == 1


async def test_reused_merchant_reference_refused_first_time_fails_repeat_is_flagged(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    from core.rails import jobs, service

    await _buy_by_link(client, rt, at_fake)
    order = await only_order(rt)
    # PesaPal already holds another order under this reference (another amount): it refuses ours
    taken = dict(sim(rt).orders[order.tracking_id or ""].__dict__)
    async with rt.session_factory() as session:
        row = await service.get_order(session=session, order_id=order.id)
        row.tracking_id, row.status = None, "submitting"  # as if a first submit crashed mid-call
        await session.commit()
    sim(rt).orders[taken["order_tracking_id"]].amount = taken["amount"] + 1
    assert await jobs.submit_order(order.id) == "refused"
    flagged = await only_order(rt)
    assert flagged.status == "flagged" and flagged.flag_reason.startswith(service.RESUBMIT_REFUSED)
    assert not any("was not completed" in m for m in texts(at_fake))  # unknown is never a failure
    async with rt.session_factory() as session:  # the first submit's answer arrives after all
        await service.mark_submitted(
            session=session,
            order_id=order.id,
            tracking_id=taken["order_tracking_id"],
            redirect_url="http://x",
        )
        await session.commit()
    assert (await only_order(rt)).status == "pending"
    assert await _entries(rt, "pesapal_collection") == 0


async def test_first_submit_refused_fails_the_order_and_says_so(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    from core.flows import accounts
    from core.identity import service as identity
    from core.money import Asset, Money
    from core.rails import jobs, service

    async with rt.session_factory() as session:
        customer = await identity.register_customer(
            session=session, phone=AIRTEL, name="Wambui", national_id="34567890", language="en", pin="4826"
        )
        wallet = await accounts.wallet_account_id(session, customer.id, Asset.KES)
        order = await service.create_order(
            session=session, rail="pesapal", purpose="topup", idempotency_key="refused-1",
            customer_id=customer.id, account_id=wallet, phone=AIRTEL, amount=Money.of("250", Asset.KES),
        )  # fmt: skip
        await session.commit()
    # PesaPal already holds another order (another amount) under our reference: it refuses ours
    other = await rt.collection_rails["pesapal"].start_collection(
        reference=order.merchant_reference, phone=AIRTEL, amount=Money.of("999", Asset.KES), description="x"
    )
    assert other.provider_reference
    assert await jobs.submit_order(order.id) == "refused"
    async with rt.session_factory() as session:
        failed = await service.get_order(session=session, order_id=order.id)
    assert failed.status == "failed" and "refused" in failed.flag_reason
    await drain(rt)
    assert any("was not completed" in m for m in texts(at_fake))


async def test_a_reversal_without_its_ipn_is_found_by_the_daily_watch(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    from core.rails import jobs

    link = await _buy_by_link(client, rt, at_fake)
    tracking = await _pay(client, link)
    await drain(rt)
    sim(rt).behaviour.ipn = "never"
    await client.post(f"/pesapal-sim/simulator/orders/{tracking}/reverse")  # a chargeback, and no IPN
    await drain(rt)
    assert (await only_order(rt)).status == OrderStatus.COMPLETED.value
    assert await jobs.watch_reversals() == 1
    assert await jobs.watch_reversals() == 1  # the same day: staged once (one status query)
    await drain(rt)
    assert (await only_order(rt)).status == OrderStatus.REVERSED.value
    assert await _entries(rt, "pesapal_reversal") == 1
