"""Staff over HTTP, PesaPal's simulator in-process in its "refund awaiting the merchant's approval"
mode (PesaPal's Refund Request: "A refund has to be approved by the merchant"): the RefundRequest is
taken but GetTransactionStatus keeps saying Completed until it is approved. Completed is not "not
made": the refund stays unknown with its amount held, a staff retry sends nothing, and when the
merchant approves it (Reversed) it is booked once, in full, with nothing owed in suspense."""

from __future__ import annotations

from decimal import Decimal

import httpx

from core.ledger import service as ledger
from core.ledger.types import AccountKind
from core.money import Asset, Money
from core.rails import jobs as rail_jobs
from core.runtime import Runtime
from tests.e2e.pesapal.conftest import drain, only_order, sim
from tests.e2e.pesapal.test_pesapal_refund_unknown import _wallet
from tests.e2e.pesapal.test_pesapal_staff import _paid_topup, _staff


async def _suspense(rt: Runtime) -> Money:
    async with rt.session_factory() as session:
        account = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
        owed = await ledger.balance(session=session, account_id=account.id)
        await session.commit()
        return owed


async def test_answer_lost_awaiting_approval_stays_held_then_approved_is_booked_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    order_id = await _paid_topup(client, rt)
    finance = await _staff(rt, "finance")
    url = f"/api/staff/pesapal/orders/{order_id}/refund"
    mode = await client.post(
        "/pesapal-sim/simulator/behaviour", json={"refund": "answer_lost", "refund_approval": "merchant"}
    )
    assert mode.json()["refund_approval"] == "merchant"
    owed_before = await _suspense(rt)
    lost = await client.post(url, json={"amount": "300"}, headers=finance)
    assert lost.status_code == 202 and lost.json()["refund"]["status"] == "unknown", lost.text
    refund_id = lost.json()["refund"]["id"]
    tracking = (await only_order(rt)).tracking_id or ""
    listed = await client.get("/pesapal-sim/simulator/orders")
    said = next(o for o in listed.json() if o["order_tracking_id"] == tracking)
    assert said["status_code"] == 1 and said["payment_status_description"] == "Completed"  # not Reversed
    assert said["refund_awaiting_approval"] == "300.00" and said["refund_requests"] == 1

    assert await rail_jobs.reconcile_refunds() == 1  # the scheduled check: Completed
    await drain(rt)
    assert await rail_jobs.check_refund(refund_id) == "unknown"  # and again: still unknown
    shown = await client.get("/api/staff/pesapal/refunds", headers=finance)
    (refund,) = shown.json()["refunds"]
    assert refund["id"] == refund_id and refund["status"] == "unknown" and "Completed" in refund["outcome"]
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("0", Asset.KES))  # held

    sim(rt).behaviour.refund = "normal"  # staff press refund again: nothing is sent
    again = await client.post(url, json={"amount": "300"}, headers=finance)
    assert again.status_code == 409 and again.json()["code"] == "refund_awaiting_outcome", again.text
    assert "dashboard" in again.json()["message"]
    assert sim(rt).orders[tracking].refund_requests == 1

    approved = await client.post(f"/pesapal-sim/simulator/orders/{tracking}/approve_refund")
    assert approved.json()["status_code"] == 3 and approved.json()["description"] == "Refunded KES 300.00"
    await drain(rt)  # the IPN: our status query says Reversed, our own refund (no chargeback)
    assert (await only_order(rt)).status == "completed"
    assert await rail_jobs.check_refund(refund_id) == "refunded"
    assert await rail_jobs.check_refund(refund_id) == "refunded"  # settled: booked once
    assert await _wallet(rt) == (Money.of("0", Asset.KES), Money.of("0", Asset.KES))
    assert await _suspense(rt) == owed_before  # nothing owed: the hold was never released
    assert await rail_jobs.reconcile_refunds() == 0
    done = await client.get(f"/api/staff/pesapal/orders/{order_id}/refunds", headers=finance)
    assert [r["status"] for r in done.json()["refunds"]] == ["refunded"]
    assert done.json()["refunded"] == "300.00"
    assert sim(rt).orders[tracking].refunded == Decimal("300.00")
