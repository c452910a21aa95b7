"""Staff over HTTP, PesaPal's simulator in-process: a RefundRequest whose answer is lost (a gateway
timeout, an unreadable body) leaves the refund unknown (202) with its amount held; the simulator's
GetTransactionStatus tells the truth (Reversed once refunded) and settles it: a staff retry books a
refund that was made exactly once. A status that shows no refund (Completed) is not "not made": the
refund stays unknown and held, a staff retry sends nothing (409 refund_awaiting_outcome), and only
two staff members release the hold (maker-checker), after which a new refund may be sent."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import select

from compliance.models import Alert
from core.auth import sessions
from core.auth.models import StaffUser
from core.ledger import service as ledger
from core.money import Asset, Money
from core.rails import jobs as rail_jobs
from core.runtime import Runtime
from tests.e2e.pesapal.conftest import drain, only_order, sim
from tests.e2e.pesapal.test_pesapal_staff import _paid_topup, _staff


async def _wallet(rt: Runtime) -> tuple[Money, Money]:
    order = await only_order(rt)
    async with rt.session_factory() as session:
        balance = await ledger.balance(session=session, account_id=order.account_id)
        return balance, await ledger.available(session=session, account_id=order.account_id)


async def _alerts(rt: Runtime) -> list[tuple[str, bool]]:
    """(rule, in a case) of every staff alert the rail raised."""
    async with rt.session_factory() as session:
        rows = await session.execute(
            select(Alert.rule_code, Alert.case_id).where(Alert.source == "rail").order_by(Alert.id)
        )
        return [(rule, case_id is not None) for rule, case_id in rows.all()]


async def test_answer_lost_after_the_refund_then_a_retry_books_it_once(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    order_id = await _paid_topup(client, rt)
    finance = await _staff(rt, "finance")
    url = f"/api/staff/pesapal/orders/{order_id}/refund"
    sim(rt).behaviour.refund = "answer_lost"  # made at PesaPal, answered 504 with no body
    lost = await client.post(url, json={"amount": "100"}, headers=finance)
    assert lost.status_code == 202, lost.text
    assert lost.json()["refund"]["status"] == "unknown" and lost.json()["refunded"] == "0.00"
    assert lost.json()["message"].startswith("Outcome unknown: we are checking with PesaPal")
    tracking = (await only_order(rt)).tracking_id or ""
    assert sim(rt).orders[tracking].refunded == Decimal("100.00")
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("200", Asset.KES))  # held
    status = await client.get("/pesapal-sim/simulator/orders")
    said = next(o for o in status.json() if o["order_tracking_id"] == tracking)
    assert said["status_code"] == 3 and said["payment_status_description"] == "Reversed"
    assert said["description"] == "Refunded KES 100.00"
    listed = await client.get("/api/staff/pesapal/refunds", headers=finance)
    assert [r["status"] for r in listed.json()["refunds"]] == ["unknown"]

    sim(rt).behaviour.refund = "normal"
    retried = await client.post(url, json={"amount": "100"}, headers=finance)
    assert retried.status_code == 200, retried.text
    assert retried.json()["refunded"] == "100.00" and retried.json()["refund"]["status"] == "refunded"
    assert retried.json()["refund"]["id"] == lost.json()["refund"]["id"]
    assert sim(rt).orders[tracking].refunded == Decimal("100.00")  # sent once
    assert await _wallet(rt) == (Money.of("200", Asset.KES), Money.of("200", Asset.KES))
    again = await client.post(url, json={"amount": "100"}, headers=finance)
    assert again.status_code == 409 and again.json()["code"] == "refund_once_only"
    assert await rail_jobs.watch_reversals() == 1  # PesaPal's Reversed for our refund: no chargeback
    await drain(rt)
    assert (await only_order(rt)).status == "completed"
    assert await _wallet(rt) == (Money.of("200", Asset.KES), Money.of("200", Asset.KES))
    # but Reversed with 100 of 300 refunded may hide a chargeback of the rest: staff told, once
    assert await rail_jobs.watch_reversals() == 1
    await drain(rt)
    assert await _alerts(rt) == [("reversed_after_partial_refund", True)]
    shown = await client.get(f"/api/staff/pesapal/orders/{order_id}/refunds", headers=finance)
    assert [r["status"] for r in shown.json()["refunds"]] == ["refunded"]


async def test_request_lost_then_the_scheduled_check_keeps_it_unknown_and_held(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    order_id = await _paid_topup(client, rt)
    finance = await _staff(rt, "finance")
    url = f"/api/staff/pesapal/orders/{order_id}/refund"
    sim(rt).behaviour.refund, sim(rt).behaviour.refund_lost_as = "request_lost", "garbled"
    lost = await client.post(url, json={"amount": "300"}, headers=finance)
    assert lost.status_code == 202 and lost.json()["refund"]["status"] == "unknown", lost.text
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("0", Asset.KES))
    assert await rail_jobs.reconcile_refunds() == 1
    await drain(rt)
    shown = await client.get(f"/api/staff/pesapal/orders/{order_id}/refunds", headers=finance)
    (refund,) = shown.json()["refunds"]
    assert refund["status"] == "unknown" and "Completed" in refund["outcome"], refund  # not "not made"
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("0", Asset.KES))  # still held
    listed = await client.get("/api/staff/pesapal/refunds", headers=finance)
    assert [r["id"] for r in listed.json()["refunds"]] == [refund["id"]]
    sim(rt).behaviour.refund = "normal"  # staff press refund again: nothing is sent
    again = await client.post(url, json={"amount": "300"}, headers=finance)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "refund_awaiting_outcome" and again.json()["refund_id"] == refund["id"]
    assert "already with PesaPal awaiting an outcome" in again.json()["message"]
    tracking = (await only_order(rt)).tracking_id or ""
    assert sim(rt).orders[tracking].refunded == Decimal(0)
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("0", Asset.KES))

    # PesaPal's dashboard shows no such refund: two staff release the hold (maker-checker)
    release = f"/api/staff/pesapal/refunds/{refund['id']}/release"
    proposed = await client.post(
        release, json={"reason": "no refund on PesaPal's dashboard"}, headers=finance
    )
    assert proposed.status_code == 202 and proposed.json()["status"] == "release_proposed", proposed.text
    (waiting,) = (await client.get("/api/staff/pesapal/refunds", headers=finance)).json()["refunds"]
    assert waiting["release_proposed"]["reason"] == "no refund on PesaPal's dashboard"
    own = await client.post(f"{release}/confirm", headers=finance)
    assert own.status_code == 409 and own.json()["code"] == "refund_release_same_person", own.text
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("0", Asset.KES))
    checker = await _another_finance(rt)
    confirmed = await client.post(f"{release}/confirm", headers=checker)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["refund"]["status"] == "not_refunded"
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("300", Asset.KES))
    twice = await client.post(f"{release}/confirm", headers=checker)
    assert twice.status_code == 409 and twice.json()["code"] == "refund_not_open"
    done = await client.post(url, json={"amount": "300"}, headers=finance)  # a new refund, made once
    assert done.status_code == 200 and done.json()["refunded"] == "300.00", done.text
    assert sim(rt).orders[tracking].refunded == Decimal("300.00")
    assert await _wallet(rt) == (Money.of("0", Asset.KES), Money.of("0", Asset.KES))


async def _another_finance(rt: Runtime) -> dict[str, str]:
    async with rt.session_factory() as session:
        staff = StaffUser(
            email="finance2@kibeti.test", role="finance", password_hash="x", totp_secret="x",
            last_totp_step=0, active=True, failed_logins=0, created_at=rt.clock.now(),
        )  # fmt: skip
        session.add(staff)
        await session.flush()
        secret = rt.settings.secret_key.get_secret_value()
        pair = await sessions.start(session=session, staff=staff, clock=rt.clock, secret_key=secret)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_a_refusal_is_a_409_that_says_what_next(client: httpx.AsyncClient, rt: Runtime) -> None:
    order_id = await _paid_topup(client, rt)
    finance = await _staff(rt, "finance")
    tracking = (await only_order(rt)).tracking_id or ""
    sim(rt).orders[tracking].payment_method = "AirtelKE"  # mobile money: refunded in full only
    refused = await client.post(
        f"/api/staff/pesapal/orders/{order_id}/refund", json={"amount": "100"}, headers=finance
    )
    assert refused.status_code == 409, refused.text
    detail = refused.json()  # as every staff refusal here: {code, message, ...}
    assert detail["code"] == "refund_refused" and detail["refund"]["status"] == "refused"
    assert "refunded in full only" in detail["message"] and "spendable again" in detail["message"]
    assert await _wallet(rt) == (Money.of("300", Asset.KES), Money.of("300", Asset.KES))
