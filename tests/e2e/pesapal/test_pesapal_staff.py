"""Staff over HTTP: a refund is never above what was paid nor what the wallet holds, PesaPal takes
one refund per payment; notifications for orders we never made are listed as flagged."""

from __future__ import annotations

from decimal import Decimal

import httpx

from core.auth import sessions
from core.auth.models import StaffUser
from core.flows import accounts
from core.identity import service as identity
from core.ledger import service as ledger
from core.money import Asset, Money
from core.rails import service as rail_orders
from core.runtime import Runtime
from tests.e2e.pesapal.conftest import drain, only_order, sim


async def _staff(rt: Runtime, role: str) -> dict[str, str]:
    async with rt.session_factory() as session:
        staff = StaffUser(
            email=f"{role}@kibeti.test", role=role, password_hash="x", totp_secret="x", last_totp_step=0,
            active=True, failed_logins=0, created_at=rt.clock.now(),
        )  # fmt: skip
        session.add(staff)
        await session.flush()
        secret = rt.settings.secret_key.get_secret_value()
        pair = await sessions.start(session=session, staff=staff, clock=rt.clock, secret_key=secret)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _paid_topup(client: httpx.AsyncClient, rt: Runtime) -> int:
    """A KES top-up of 300 by card, paid and confirmed (what a portal top-up will do)."""
    async with rt.session_factory() as session:
        customer = await identity.register_customer(
            session=session,
            phone="+254733000009",
            name="Achieng",
            national_id="34567899",
            language="en",
            pin="4826",
        )
        wallet = await accounts.wallet_account_id(session, customer.id, Asset.KES)
        order = await rail_orders.create_order(
            session=session, rail="pesapal", purpose="topup", idempotency_key="staff-topup", customer_id=customer.id,
            account_id=wallet, phone=customer.phone, amount=Money.of("300", Asset.KES),
        )  # fmt: skip
        await session.commit()
    await drain(rt)
    tracking = (await only_order(rt)).tracking_id
    assert tracking is not None
    await client.post(f"/pesapal-sim/pay/{tracking}/pay", data={"method": "card"})
    await drain(rt)
    assert (await only_order(rt)).status == "completed"
    return order.id


async def test_refunds_are_bounded_and_once(client: httpx.AsyncClient, rt: Runtime) -> None:
    order_id = await _paid_topup(client, rt)
    finance, support = await _staff(rt, "finance"), await _staff(rt, "support")
    url = f"/api/staff/pesapal/orders/{order_id}/refund"
    assert (await client.post(url, json={"amount": "100"}, headers=support)).status_code == 403
    above = await client.post(url, json={"amount": "300.01"}, headers=finance)
    assert above.status_code == 409 and "above" in above.text
    done = await client.post(url, json={"amount": "100"}, headers=finance)
    assert done.status_code == 200 and done.json()["refunded"] == "100.00"
    order = await only_order(rt)
    async with rt.session_factory() as session:
        assert await ledger.balance(session=session, account_id=order.account_id) == Money.of(
            "200", Asset.KES
        )
    assert sim(rt).orders[order.tracking_id or ""].refunded == Decimal("100.00")
    again = await client.post(url, json={"amount": "50"}, headers=finance)  # PesaPal: one refund per payment
    assert again.status_code == 409
    said = again.json()["message"]
    assert "one refund per payment" in said and "already refunded KES 100.00" in said, said
    assert "KES 200.00 stays in the customer's Kibeti wallet" in said and "M-Pesa" in said, said
    assert sim(rt).orders[order.tracking_id or ""].refunded == Decimal("100.00")
    async with rt.session_factory() as session:
        assert await ledger.balance(session=session, account_id=order.account_id) == Money.of(
            "200", Asset.KES
        )


async def test_unknown_notifications_are_listed_for_staff(client: httpx.AsyncClient, rt: Runtime) -> None:
    await client.get("/pesapal/ipn", params={"OrderTrackingId": "nope", "OrderMerchantReference": "KBT-X"})
    listed = await client.get("/api/staff/pesapal/flagged", headers=await _staff(rt, "support"))
    assert listed.status_code == 200
    assert [n["tracking_id"] for n in listed.json()["unmatched_notices"]] == ["nope"]
