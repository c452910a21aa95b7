"""The database round trips of one invoice creation through the merchant API (PostgreSQL), counted on
the connection: every statement SQLAlchemy sends, and every one sent on the asyncpg connection itself
(BEGIN, COMMIT and the plain statements of core.db.raw). A creation with a key the process checked
seconds ago is 7: BEGIN, the key's merchant with the Idempotency-Key's stored response, the invoice,
the pooled addresses' claim, the webhook event with the invoice.created event and the payment methods,
the Idempotency-Key row, COMMIT (the rates are read apart, at most once a second on the real clock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import api_keys
from core.invoices.models import Invoice, InvoiceEvent, InvoiceMethod
from core.webhooks.models import WebhookEvent
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.invoices.conftest import Shop

FX_TABLES = ("fx_rates", "fx_overrides")


@pytest.fixture
def session_factory(pg_session_factory: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """PostgreSQL only: the round trips counted are PostgreSQL's (SQLite's are calls in the process)."""
    return pg_session_factory


@asynccontextmanager
async def statements(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[list[str]]:
    """What is sent meanwhile (asyncpg reports its own statements through call_soon: in any order)."""
    sent: list[str] = []
    engine = factory.kw["bind"].sync_engine

    def orm(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    def raw(record: Any) -> None:
        sent.append(record.query)

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection._connection.add_query_logger(raw)

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection._connection.remove_query_logger(raw)

    event.listen(engine, "before_cursor_execute", orm)
    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine.pool, "checkin", checkin)
    try:
        yield sent
        await asyncio.sleep(0.05)  # asyncpg's query loggers are called soon after, not at once
    finally:
        event.remove(engine, "before_cursor_execute", orm)
        event.remove(engine.pool, "checkout", checkout)
        event.remove(engine.pool, "checkin", checkin)


@pytest.fixture
async def api(shop: Shop) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with shop.factory() as session, session.begin():
        issued = await api_keys.create_api_key(
            session=session, merchant_id=shop.merchant_id, scopes=["invoices:write"], name="shop",
            clock=shop.clock, actor="test",
        )  # fmt: skip
    await shop.gateway.refill_address_pool(target=5)  # the claim of pooled addresses (production's)
    runtime = make_runtime(shop.factory, shop.clock)
    runtime.chains = shop.gateway
    async with api_client(runtime) as (_app, client):
        yield client, {"Authorization": f"Bearer {issued.plaintext}"}


def _touching(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if table in s]


async def test_a_creation_is_seven_round_trips_and_a_replay_one_read(
    api: tuple[httpx.AsyncClient, dict[str, str]], shop: Shop
) -> None:
    client, auth = api
    body = {"amount": "2500", "currency": "KES", "order_id": "A-1"}
    first = await client.post("/api/v1/invoices", json=body, headers={**auth, "Idempotency-Key": "k0"})
    assert first.status_code == 201, first.text  # the key is checked in full once, then trusted 5 s
    async with statements(shop.factory) as sent:
        made = await client.post("/api/v1/invoices", json=body, headers={**auth, "Idempotency-Key": "k1"})
    assert made.status_code == 201, made.text
    trips = [s for s in sent if not any(table in s for table in FX_TABLES)]
    assert [_verb(s) for s in trips if _verb(s) in ("BEGIN", "COMMIT", "ROLLBACK")] == ["BEGIN", "COMMIT"]
    merchant_reads = _touching(trips, "FROM merchants")
    assert len(merchant_reads) == 1 and "merchant_api_idempotency" in merchant_reads[0]
    assert len(_touching(trips, "merchant_api_idempotency")) == 2  # that read, and the key's row
    written_together = _touching(trips, "INSERT INTO invoice_methods")
    assert len(written_together) == 1 and all(
        table in written_together[0] for table in ("INSERT INTO invoice_events", "INSERT INTO webhook_events")
    )
    assert len(trips) == 7, trips

    async with statements(shop.factory) as sent:
        again = await client.post("/api/v1/invoices", json=body, headers={**auth, "Idempotency-Key": "k1"})
    assert again.json() == made.json() and again.headers["idempotent-replayed"] == "true"
    assert sorted(_verb(s) for s in sent) == ["BEGIN", "ROLLBACK", "SELECT"], sent

    async with shop.factory() as session:
        invoice_id = (
            await session.execute(select(Invoice.id).where(Invoice.public_id == made.json()["id"]))
        ).scalar_one()
        counted = {
            model.__name__: (
                await session.execute(select(func.count()).select_from(model).where(where))
            ).scalar_one()
            for model, where in (
                (InvoiceMethod, InvoiceMethod.invoice_id == invoice_id),
                (InvoiceEvent, InvoiceEvent.invoice_id == invoice_id),
                (WebhookEvent, WebhookEvent.object_id == made.json()["id"]),
            )
        }
    assert counted == {"InvoiceMethod": 4, "InvoiceEvent": 1, "WebhookEvent": 1}


def _verb(statement: str) -> str:
    return statement.split()[0].rstrip(";").upper()
