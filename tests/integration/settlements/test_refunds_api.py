"""The merchant API for refunds and settlements, and the payer's refund link, over HTTP (ASGI) on
both databases: scopes, Idempotency-Key, {code, message} errors with nothing moved, the link's
one-time use and its address check."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from core.auth import api_keys
from core.clock import FixedClock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.merchants import service as merchants
from core.money import Asset, Money
from core.settlements.models import Refund
from core.settlements.service import credit_kibeti_payment, credit_settled_invoice
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.settlements.test_refunds import ADDRESS, FakeChains

KES, USDT = Asset.KES, Asset.USDT_TRC20


async def _shop(factory) -> dict[str, Any]:
    clock = FixedClock()
    async with factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Duka API", actor="t", clock=clock, settlement_method="till",
            settlement_till="5550001", settlement_schedule="daily",
        )  # fmt: skip
        merchant.status = "active"
        writer = await api_keys.create_api_key(
            session=session, merchant_id=merchant.id, scopes=["refunds:write", "invoices:read"], name="w",
            clock=clock, actor="t",
        )  # fmt: skip
        reader = await api_keys.create_api_key(
            session=session,
            merchant_id=merchant.id,
            scopes=["invoices:read"],
            name="r",
            clock=clock,
            actor="t",
        )
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=KES)
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=91, asset=KES
        )
        await ledger.post_entry(
            session=session, idempotency_key="api:fund", kind="test_funding",
            postings=[PostingRequest(custody.id, -Money.of(2000, KES)), PostingRequest(wallet.id, Money.of(2000, KES))],
        )  # fmt: skip
        paid = await credit_kibeti_payment(
            session=session, merchant=merchant, payment_key="api:1", reference="", customer_id=91,
            from_account_id=wallet.id, amount=Money.of(1500, KES), paid=Money.of(1500, KES), payer="0712***678",
        )  # fmt: skip
        usdt = Money.of("19.305019", USDT)
        invoice_account = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.SYSTEM, owner_id=9191, asset=USDT
        )
        usdt_custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=USDT)
        await ledger.post_entry(
            session=session, idempotency_key="api:usdt", kind="test_funding",
            postings=[PostingRequest(usdt_custody.id, -usdt), PostingRequest(invoice_account.id, usdt)],
        )  # fmt: skip
        await credit_settled_invoice(
            session=session, merchant=merchant, invoice_id="inv_api", reference="INV-API1",
            gross=Money.of(2500, KES), paid=usdt, paid_from_account_id=invoice_account.id,
            market_value=Money.of(2500, KES),
        )  # fmt: skip
        await session.commit()
        return {
            "writer": {"Authorization": f"Bearer {writer.plaintext}"},
            "reader": {"Authorization": f"Bearer {reader.plaintext}"},
            "kp": paid.credit.reference, "clock": clock, "wallet": wallet.id,
        }  # fmt: skip


async def _refunds(factory) -> int:
    async with factory() as session:
        return int((await session.execute(select(func.count()).select_from(Refund))).scalar_one())


async def test_refund_api_and_link(session_factory) -> None:
    shop = await _shop(session_factory)
    runtime = make_runtime(session_factory, shop["clock"])
    chains = FakeChains()
    runtime.chains = chains  # type: ignore[assignment]
    async with api_client(runtime) as (_app, client):
        client: httpx.AsyncClient
        body = {"payment": shop["kp"], "amount": "500", "reason": "returned goods"}
        denied = await client.post("/api/v1/refunds", json=body, headers=shop["reader"])
        assert denied.status_code == 403 and denied.json()["code"] == "insufficient_scope"
        headers = {**shop["writer"], "Idempotency-Key": "ref-1"}
        made = await client.post("/api/v1/refunds", json=body, headers=headers)
        assert made.status_code == 201, made.text
        refund = made.json()
        assert (refund["status"], refund["method"], refund["amount"]) == ("completed", "wallet", "500.00")
        again = await client.post("/api/v1/refunds", json=body, headers=headers)
        assert again.json()["id"] == refund["id"] and again.headers.get("Idempotent-Replayed") == "true"
        other = await client.post("/api/v1/refunds", json={**body, "amount": "501"}, headers=headers)
        assert other.status_code == 409
        too_much = await client.post(
            "/api/v1/refunds", json={"payment": shop["kp"], "amount": "1000.01"}, headers=shop["writer"]
        )
        assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_paid"
        unpaid = await client.post("/api/v1/refunds", json={"payment": "INV-NONE"}, headers=shop["writer"])
        assert unpaid.status_code == 409 and unpaid.json()["code"] == "invoice_not_paid"
        bad = await client.post(
            "/api/v1/refunds", json={"payment": shop["kp"], "amount": "-5"}, headers=shop["writer"]
        )
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_amount"
        assert await _refunds(session_factory) == 1
        got = await client.get(f"/api/v1/refunds/{refund['id']}", headers=shop["writer"])
        assert got.json()["status"] == "completed"
        assert (await client.get("/api/v1/refunds/rf_nope", headers=shop["writer"])).status_code == 404

        crypto = await client.post(
            "/api/v1/refunds", json={"payment": "INV-API1", "amount": "1250"}, headers=shop["writer"]
        )
        assert crypto.status_code == 201, crypto.text
        link = crypto.json()["refund_link"]
        path = link.removeprefix("http://testserver")
        page = await client.get(path)
        assert page.status_code == 200 and "USDT-TRC20" in page.text and "KES 1,250.00" in page.text
        wrong = await client.post(path, data={"address": "0x52908400098527886E0F7030069857D2E4169EE7"})
        assert wrong.status_code == 422 and "invalid_address" in wrong.text
        sent = await client.post(path, data={"address": ADDRESS})
        assert sent.status_code == 200 and ADDRESS in sent.text
        assert (await client.get(path)).status_code == 404  # one time
        assert len(chains.requests) == 1

        balance = await client.get("/api/v1/settlements/balance", headers=shop["reader"])
        # 1,477.50 + 2,462.50 credited, 500 + 1,250 refunded
        assert balance.json()["available"] == "2190.00"
        listed = await client.get("/api/v1/settlements", headers=shop["reader"])
        assert listed.status_code == 200 and listed.json() == {"data": [], "next_cursor": None}
        missing = await client.get("/api/v1/settlements/S1/statement.csv", headers=shop["reader"])
        assert missing.status_code == 404 and missing.json()["code"] == "settlement_not_found"
