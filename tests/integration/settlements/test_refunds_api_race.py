"""Two concurrent POST /api/v1/refunds with one Idempotency-Key (a client's retry after a timeout,
sent while the first is still working) on PostgreSQL: one refund, and the retry gets the first's
answer replayed, not a 500. Both read the key before either stored it; the retry's insert of the
refund's key waits for the first request's commit, then fails as a unique violation inside the work,
which `idempotent` answers with the stored response. (SQLite runs one writer at a time: the retry
cannot start its work before the first commits, so there is no such race to make there.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.merchants.models import ApiIdempotencyKey, Merchant
from core.settlements import refunds as refunds_module
from core.settlements.models import Refund
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.settlements.test_refunds import FakeChains
from tests.integration.settlements.test_refunds_api import _refunds, _shop


async def test_a_concurrent_retry_of_a_refund_is_replayed_not_a_500(
    pg_session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await _shop(pg_session_factory)
    runtime = make_runtime(pg_session_factory, shop["clock"])
    runtime.chains = FakeChains()  # type: ignore[assignment]
    real_announce = refunds_module._announce
    first_in = asyncio.Event()
    retry_sent = asyncio.Event()

    async def announce_after_the_retry(session: AsyncSession, row: Refund, event_type: str) -> None:
        # The first request has flushed its refund and holds its key; it commits only after the
        # retry has been sent (and has had time to read the key, find none, and insert its own).
        if not first_in.is_set():
            first_in.set()
            await retry_sent.wait()
            await asyncio.sleep(0.3)
        await real_announce(session, row, event_type)

    monkeypatch.setattr(refunds_module, "_announce", announce_after_the_retry)
    body = {"payment": shop["kp"], "amount": "500", "reason": "returned goods"}
    headers = {**shop["writer"], "Idempotency-Key": "ref-race"}
    async with api_client(runtime) as (_app, client):

        async def first() -> httpx.Response:
            return await client.post("/api/v1/refunds", json=body, headers=headers)

        async def retry() -> httpx.Response:
            await first_in.wait()
            retry_sent.set()
            return await client.post("/api/v1/refunds", json=body, headers=headers)

        a, b = await asyncio.gather(first(), retry())
        assert (a.status_code, b.status_code) == (201, 201), (a.text[:300], b.text[:300])
        assert "Idempotent-Replayed" not in a.headers
        assert b.headers.get("Idempotent-Replayed") == "true"
        assert b.json() == a.json()
        assert await _refunds(pg_session_factory) == 1
        again = await client.post("/api/v1/refunds", json=body, headers=headers)
        assert again.status_code == 201 and again.json()["id"] == a.json()["id"]
        assert again.headers.get("Idempotent-Replayed") == "true"


async def test_another_unique_violation_in_the_work_is_not_the_key_in_use_forever(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both databases: the work's own insert conflicts with a row that has nothing to do with this
    Idempotency-Key. With the key not stored after the rollback, the app's error handler answers
    ({code, message}, nothing written), not idempotency_key_in_use; a retry with the key, once the
    conflict is gone, is done once."""
    shop = await _shop(session_factory)
    runtime = make_runtime(session_factory, shop["clock"])
    runtime.chains = FakeChains()  # type: ignore[assignment]
    real_announce = refunds_module._announce
    clash = {"on": True}

    async def announce_and_clash(session: AsyncSession, row: Refund, event_type: str) -> None:
        await real_announce(session, row, event_type)
        if clash["on"]:  # a row that is already there, under another key
            session.add(
                ApiIdempotencyKey(
                    merchant_id=row.merchant_id, key="taken", request_digest="x", status_code=201,
                    response={}, created_at=shop["clock"].now(),
                )
            )  # fmt: skip
            await session.flush()

    async with session_factory() as session, session.begin():
        session.add(
            ApiIdempotencyKey(
                merchant_id=(await session.execute(select(Merchant.id))).scalar_one(),
                key="taken", request_digest="x", status_code=201, response={}, created_at=shop["clock"].now(),
            )
        )  # fmt: skip
    monkeypatch.setattr(refunds_module, "_announce", announce_and_clash)
    body = {"payment": shop["kp"], "amount": "500", "reason": "returned goods"}
    headers = {**shop["writer"], "Idempotency-Key": "ref-clash"}
    async with api_client(runtime) as (_app, client):
        failed = await client.post("/api/v1/refunds", json=body, headers=headers)
        assert failed.status_code == 500, failed.text
        assert failed.json()["code"] == "internal_error"  # the error handler's answer, no traceback
        assert await _refunds(session_factory) == 0
        clash["on"] = False
        done = await client.post("/api/v1/refunds", json=body, headers=headers)
        assert done.status_code == 201, done.text
        assert "Idempotent-Replayed" not in done.headers
        assert await _refunds(session_factory) == 1
