"""Staff over HTTP, the app's PesaPal simulator driven through its own HTTP controls, PostgreSQL and
Redis. (1) PesaPal accepts a refund that the merchant must approve on PesaPal's dashboard: the staff
answer is 202 refund_awaiting_approval ("accepted by PesaPal, waiting for approval on PesaPal's
dashboard"), the amount stays held and nothing is booked while the status says Completed; approved
(Reversed), it is booked once. (2) PesaPal answers the RefundRequest with an error in the body (HTTP
200, status "500") whose code does not say "not done": never a refusal, the amount stays held;
PesaPal's status decides (made after approval -> booked once; never made -> two staff release it)."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import func, select

from core.ledger.models import JournalEntry
from core.money import Asset, Money
from core.rails import jobs as rail_jobs
from core.runtime import Runtime
from tests.e2e.pesapal.conftest import drain, only_order, sim
from tests.e2e.pesapal.test_pesapal_refund_unknown import _another_finance, _wallet
from tests.e2e.pesapal.test_pesapal_staff import _paid_topup, _staff

HELD = (Money.of("300", Asset.KES), Money.of("0", Asset.KES))
BOOKED = (Money.of("0", Asset.KES), Money.of("0", Asset.KES))
RELEASED = (Money.of("300", Asset.KES), Money.of("300", Asset.KES))


async def _booked(rt: Runtime) -> int:
    async with rt.session_factory() as session:
        query = select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "pesapal_refund")
        return int(await session.scalar(query) or 0)


async def _approve(client: httpx.AsyncClient, rt: Runtime) -> None:
    tracking = (await only_order(rt)).tracking_id or ""
    approved = await client.post(f"/pesapal-sim/simulator/orders/{tracking}/approve_refund")
    assert approved.json()["status_code"] == 3, approved.text
    await drain(rt)  # the IPN: our own status query says Reversed, our refund (no chargeback)


async def test_accepted_waits_for_approval_held_then_booked_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    order_id = await _paid_topup(client, rt)
    finance = await _staff(rt, "finance")
    mode = await client.post("/pesapal-sim/simulator/behaviour", json={"refund_approval": "merchant"})
    assert mode.json()["refund_approval"] == "merchant"
    asked = await client.post(
        f"/api/staff/pesapal/orders/{order_id}/refund", json={"amount": "300"}, headers=finance
    )
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["code"] == "refund_awaiting_approval" and body["refund"]["status"] == "accepted"
    assert "waiting for approval on PesaPal's dashboard" in body["message"], body["message"]
    assert body["refunded"] == "0.00" and await _wallet(rt) == HELD and await _booked(rt) == 0
    refund_id = body["refund"]["id"]
    listed = (await client.get("/api/staff/pesapal/refunds", headers=finance)).json()["refunds"]
    assert [(r["id"], r["status"]) for r in listed] == [(refund_id, "accepted")]
    assert listed[0]["outcome"].startswith("accepted by PesaPal, waiting for approval")
    assert await rail_jobs.reconcile_refunds() == 1
    await drain(rt)  # the scheduled check: Completed, still accepted, still held
    assert await rail_jobs.check_refund(refund_id) == "accepted"
    assert await _wallet(rt) == HELD and await _booked(rt) == 0
    await _approve(client, rt)
    assert await rail_jobs.check_refund(refund_id) == "refunded"
    assert await rail_jobs.check_refund(refund_id) == "refunded"
    assert await _wallet(rt) == BOOKED and await _booked(rt) == 1
    done = await client.get(f"/api/staff/pesapal/orders/{order_id}/refunds", headers=finance)
    assert [r["status"] for r in done.json()["refunds"]] == ["refunded"] and done.json()[
        "refunded"
    ] == "300.00"


async def test_an_error_body_after_pesapal_took_it_is_held_and_booked_when_approved(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    order_id = await _paid_topup(client, rt)
    finance = await _staff(rt, "finance")
    mode = {"refund": "answer_lost", "refund_lost_as": "error_body", "refund_error_body": "server_error",
            "refund_error_http": 200, "refund_approval": "merchant"}  # fmt: skip
    assert (await client.post("/pesapal-sim/simulator/behaviour", json=mode)).json()[
        "refund_lost_as"
    ] == "error_body"
    asked = await client.post(
        f"/api/staff/pesapal/orders/{order_id}/refund", json={"amount": "300"}, headers=finance
    )
    assert asked.status_code == 202, asked.text  # not 409 refused: the hold stays
    refund = asked.json()["refund"]
    assert refund["status"] == "unknown" and "internal_server_error" in refund["outcome"], refund
    assert await _wallet(rt) == HELD and await _booked(rt) == 0
    assert await rail_jobs.check_refund(refund["id"]) == "unknown"  # Completed: awaiting approval
    await _approve(client, rt)
    assert await rail_jobs.check_refund(refund["id"]) == "refunded"
    assert await _wallet(rt) == BOOKED and await _booked(rt) == 1
    tracking = (await only_order(rt)).tracking_id or ""
    assert sim(rt).orders[tracking].refunded == Decimal("300.00")


async def test_an_error_body_for_a_refund_never_taken_is_held_until_two_staff_release_it(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    order_id = await _paid_topup(client, rt)
    finance = await _staff(rt, "finance")
    mode = {"refund": "request_lost", "refund_lost_as": "error_body", "refund_error_body": "no_code"}
    await client.post("/pesapal-sim/simulator/behaviour", json=mode)
    asked = await client.post(
        f"/api/staff/pesapal/orders/{order_id}/refund", json={"amount": "300"}, headers=finance
    )
    assert asked.status_code == 202 and asked.json()["refund"]["status"] == "unknown", asked.text
    refund_id = asked.json()["refund"]["id"]
    assert await rail_jobs.check_refund(refund_id) == "unknown" and await _wallet(rt) == HELD
    release = f"/api/staff/pesapal/refunds/{refund_id}/release"
    proposed = await client.post(
        release, json={"reason": "no refund on PesaPal's dashboard"}, headers=finance
    )
    assert proposed.status_code == 202, proposed.text
    confirmed = await client.post(f"{release}/confirm", headers=await _another_finance(rt))
    assert confirmed.status_code == 200 and confirmed.json()["refund"]["status"] == "not_refunded"
    assert await _wallet(rt) == RELEASED and await _booked(rt) == 0
    # a refusal whose code says "not done" is still a refusal: released at once, 409 saying what next
    await client.post(
        "/pesapal-sim/simulator/behaviour",
        json={"refund": "request_lost", "refund_lost_as": "error_body", "refund_error_body": "refused"},
    )
    refused = await client.post(
        f"/api/staff/pesapal/orders/{order_id}/refund", json={"amount": "300"}, headers=finance
    )
    assert refused.status_code == 409 and refused.json()["code"] == "refund_refused", refused.text
    assert "invalid_refund_amount" in refused.json()["refund"]["outcome"]
    assert await _wallet(rt) == RELEASED and await _booked(rt) == 0
