"""Staff (finance, settlements.manage) run the settlements now and see failed ones first; a staff
refund is audited; support staff are refused."""

from __future__ import annotations

from sqlalchemy import select

from core.audit.models import AuditEntry
from core.auth import sessions
from core.auth.models import StaffUser
from core.clock import FixedClock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.merchants import service as merchants
from core.money import Asset, Money
from core.settlements.service import credit_kibeti_payment
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import SECRET_KEY

KES = Asset.KES


async def _staff(factory, clock: FixedClock, role: str) -> str:
    async with factory() as session:
        staff = StaffUser(
            email=f"{role}-settle@kibeti.test", role=role, password_hash="x", totp_secret="x", last_totp_step=0,
            active=True, failed_logins=0, created_at=clock.now(),
        )  # fmt: skip
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
        await session.commit()
        return pair.access_token


async def test_staff_run_list_and_refund(session_factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Duka la Staff", actor="t", clock=clock, settlement_method="till",
            settlement_till="5552222", settlement_schedule="daily",
        )  # fmt: skip
        merchant.status = "active"
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=3131, asset=KES
        )
        source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        await ledger.post_entry(
            session=session, idempotency_key="staff:fund", kind="test_funding",
            postings=[PostingRequest(source.id, -Money.of(900, KES)), PostingRequest(wallet.id, Money.of(900, KES))],
        )  # fmt: skip
        paid = await credit_kibeti_payment(
            session=session, merchant=merchant, payment_key="staff:1", reference="", customer_id=3131,
            from_account_id=wallet.id, amount=Money.of(800, KES), paid=Money.of(800, KES), payer="",
        )  # fmt: skip
        merchant_id, reference = merchant.id, paid.credit.reference
        await session.commit()
    finance = {"Authorization": f"Bearer {await _staff(session_factory, clock, 'finance')}"}
    support = {"Authorization": f"Bearer {await _staff(session_factory, clock, 'support')}"}
    async with api_client(make_runtime(session_factory, clock)) as (_app, client):
        assert (await client.post("/api/staff/settlements/run", json={}, headers=support)).status_code == 403
        refund = await client.post(
            f"/api/staff/merchants/{merchant_id}/refunds", json={"payment": reference, "amount": "100"},
            headers=finance,
        )  # fmt: skip
        assert refund.status_code == 201 and refund.json()["status"] == "completed"
        too_much = await client.post(
            f"/api/staff/merchants/{merchant_id}/refunds", json={"payment": reference, "amount": "701"},
            headers=finance,
        )  # fmt: skip
        assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_paid"
        ran = await client.post(
            "/api/staff/settlements/run", json={"merchant_id": merchant_id}, headers=finance
        )
        assert ran.status_code == 200, ran.text
        (opened,) = ran.json()
        assert (opened["merchant_id"], opened["amount"], opened["status"]) == (
            merchant_id,
            "688.00",
            "paying",
        )
        listed = await client.get("/api/staff/settlements", headers=finance)
        assert listed.status_code == 200 and listed.json()[0]["id"] == opened["id"]
    async with session_factory() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "refund.created" in actions and "settlement.run" in actions
