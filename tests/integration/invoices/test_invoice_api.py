"""The merchant API's invoices: create (Idempotency-Key), read, list with a cursor, and every bad
input answered as {code, message} with nothing written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.auth import api_keys
from core.invoices.models import Invoice
from core.merchants import service as merchants
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.invoices.conftest import Shop


@pytest.fixture
async def api(shop: Shop) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], Shop]]:
    async with shop.factory() as session, session.begin():
        writer = await api_keys.create_api_key(
            session=session,
            merchant_id=shop.merchant_id,
            scopes=["invoices:write", "invoices:read"],
            name="shop",
            clock=shop.clock,
            actor="test",
        )
        other = await merchants.create_merchant(
            session=session, name="Other Shop", actor="t", clock=shop.clock
        )
        other.status = "active"
        stranger = await api_keys.create_api_key(
            session=session,
            merchant_id=other.id,
            scopes=["invoices:read"],
            name="o",
            clock=shop.clock,
            actor="t",
        )
    runtime = make_runtime(shop.factory, shop.clock)
    runtime.chains = shop.gateway
    async with api_client(runtime) as (_app, client):
        yield (
            client,
            {"writer": f"Bearer {writer.plaintext}", "stranger": f"Bearer {stranger.plaintext}"},
            shop,
        )


async def _count(shop: Shop) -> int:
    async with shop.factory() as session:
        return int((await session.execute(select(func.count()).select_from(Invoice))).scalar_one())


async def test_create_read_list(api: tuple[httpx.AsyncClient, dict[str, str], Shop]) -> None:
    client, keys, shop = api
    auth = {"Authorization": keys["writer"]}
    body = {"amount": "2500", "currency": "KES", "order_id": "A-1", "metadata": {"table": 4}}
    made = await client.post("/api/v1/invoices", json=body, headers={**auth, "Idempotency-Key": "k1"})
    assert made.status_code == 201, made.text
    invoice = made.json()
    assert (invoice["status"], invoice["additional_status"], invoice["kes_amount"]) == (
        "new",
        "none",
        "2500.00",
    )
    assert invoice["checkout_link"].endswith(f"/i/{invoice['id']}")
    methods = {m["asset"]: m for m in invoice["payment_methods"]}
    assert set(methods) == {"BTC", "USDT-ERC20", "USDT-TRC20", "KES"}
    assert methods["USDT-TRC20"]["due"] == "19.305020" and methods["USDT-TRC20"]["address"].startswith("T")
    assert methods["BTC"]["paid"] == "0.00000000"  # fixed notation, never 0E-8
    again = await client.post("/api/v1/invoices", json=body, headers={**auth, "Idempotency-Key": "k1"})
    assert again.json() == invoice and again.headers.get("idempotent-replayed") == "true"
    assert await _count(shop) == 1
    shown = await client.get(f"/api/v1/invoices/{invoice['id']}", headers=auth)
    assert shown.status_code == 200 and shown.json()["id"] == invoice["id"]
    hidden = await client.get(
        f"/api/v1/invoices/{invoice['id']}", headers={"Authorization": keys["stranger"]}
    )
    assert hidden.status_code == 404 and hidden.json()["code"] == "invoice_not_found"
    for n in range(3):
        await client.post("/api/v1/invoices", json={"amount": 100 + n}, headers=auth)
    page = await client.get("/api/v1/invoices?limit=3", headers=auth)
    assert page.status_code == 200 and len(page.json()["data"]) == 3
    rest = await client.get(f"/api/v1/invoices?limit=3&cursor={page.json()['next_cursor']}", headers=auth)
    assert [i["id"] for i in rest.json()["data"]] == [invoice["id"]] and rest.json()["next_cursor"] is None
    bad_cursor = await client.get("/api/v1/invoices?cursor=zzz", headers=auth)
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "invalid_cursor"
    by_order = await client.get("/api/v1/invoices?order_id=A-1", headers=auth)
    assert [i["id"] for i in by_order.json()["data"]] == [invoice["id"]]


BAD: list[tuple[dict[str, Any], int, str]] = [
    ({"amount": "-5"}, 422, "invalid_amount"),
    ({"amount": "0"}, 422, "invalid_amount"),
    ({"amount": 0}, 422, "invalid_amount"),
    ({"amount": "10.005"}, 422, "invalid_amount"),
    ({"amount": "1e3"}, 422, "invalid_amount"),
    ({"amount": "abc"}, 422, "invalid_amount"),
    ({"amount": "1,50"}, 422, "invalid_amount"),  # a comma between groups of 3 digits only
    ({"amount": "1,5000"}, 422, "invalid_amount"),
    ({"amount": 1e21}, 422, "invalid_amount"),
    ({"amount": "2000000"}, 422, "amount_above_limit"),
    ({"amount": "100", "currency": "EUR"}, 422, "unsupported_currency"),
    ({"amount": "100", "payment_methods": ["DOGE"]}, 422, "unsupported_payment_method"),
    ({"amount": "100", "payment_methods": []}, 422, "unsupported_payment_method"),
    ({"amount": "100", "buyer_email": "not-an-email"}, 422, "invalid_invoice"),
    ({"amount": "100", "redirect_url": "javascript:alert(1)"}, 422, "invalid_invoice"),
    ({"amount": "100", "buyer_phone": "12"}, 422, "invalid_invoice"),
    ({"amount": None}, 422, "invalid_request"),
    ({"amount": "100", "surprise": 1}, 422, "invalid_request"),
]


@pytest.mark.parametrize(
    ("text", "kes"), [("1,500", "1500.00"), ("1,000", "1000.00"), ("1,500.50", "1500.50")]
)
async def test_thousands_comma_as_the_customer_flows_accept(
    api: tuple[httpx.AsyncClient, dict[str, str], Shop], text: str, kes: str
) -> None:
    client, keys, shop = api
    made = await client.post(
        "/api/v1/invoices", json={"amount": text}, headers={"Authorization": keys["writer"]}
    )
    assert made.status_code == 201, made.text
    assert made.json()["amount"] == made.json()["kes_amount"] == kes
    assert await _count(shop) == 1


@pytest.mark.parametrize(("body", "status", "code"), BAD)
async def test_bad_input(
    api: tuple[httpx.AsyncClient, dict[str, str], Shop], body: dict[str, Any], status: int, code: str
) -> None:
    client, keys, shop = api
    answer = await client.post("/api/v1/invoices", json=body, headers={"Authorization": keys["writer"]})
    assert answer.status_code == status and answer.json()["code"] == code, answer.text
    assert set(answer.json()) == {"code", "message"} and answer.json()["message"]
    assert await _count(shop) == 0


async def test_reused_idempotency_key_with_another_body(
    api: tuple[httpx.AsyncClient, dict[str, str], Shop],
) -> None:
    client, keys, shop = api
    headers = {"Authorization": keys["writer"], "Idempotency-Key": "same"}
    assert (await client.post("/api/v1/invoices", json={"amount": "100"}, headers=headers)).status_code == 201
    other = await client.post("/api/v1/invoices", json={"amount": "200"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert await _count(shop) == 1


async def test_openapi_documents_the_merchant_api(
    api: tuple[httpx.AsyncClient, dict[str, str], Shop],
) -> None:
    client, _keys, _shop = api
    spec = (await client.get("/api/openapi.json")).json()
    assert {"/api/v1/invoices", "/api/v1/invoices/{invoice_id}"} <= set(spec["paths"])
    create = spec["paths"]["/api/v1/invoices"]["post"]
    assert create["security"] and {"201", "401", "403", "422", "429"} <= set(create["responses"])
