"""The merchant API's plumbing: Bearer key -> MerchantPrincipal (scope, active merchant, per-key
limit), every error as {code, message}, Idempotency-Key (same request: stored answer; other: 409)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit import service as audit
from core.audit.models import AuditEntry
from core.auth import api_keys
from core.clock import FixedClock
from core.merchants import service as merchants
from core.ratelimit import MemoryRateLimiter
from tests.integration.identity.api_helpers import make_runtime
from webapp.deps_auth import DbSession
from webapp.merchant_auth import MerchantPrincipal, idempotent, merchant_api_router, require_scope

Factory = async_sessionmaker[AsyncSession]


Writer = Annotated[MerchantPrincipal, Depends(require_scope("invoices:write"))]


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=20)


def _app(runtime: Any) -> FastAPI:
    router = merchant_api_router(prefix="/things")

    @router.post("", status_code=201)
    async def create(body: Thing, request: Request, session: DbSession, principal: Writer) -> JSONResponse:
        async def work() -> tuple[int, dict[str, Any]]:
            # a write in the request's transaction: one audit row per real creation
            row = await audit.record(session=session, actor="test", action="thing.created", subject=body.name)
            return 201, {"merchant_id": principal.merchant_id, "name": body.name, "seq": row.seq}

        return await idempotent(request=request, session=session, principal=principal, work=work)

    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(router)
    return app


@pytest.fixture
async def setup(session_factory: Factory) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], Factory]]:
    clock = FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    async with session_factory() as session, session.begin():
        shop = await merchants.create_merchant(session=session, name="Shop", actor="t", clock=clock)
        shop.status = "active"
        idle = await merchants.create_merchant(session=session, name="Idle", actor="t", clock=clock)
        keys = {}
        for label, merchant, scopes in (
            ("writer", shop, ["invoices:write"]),
            ("reader", shop, ["invoices:read"]),
            ("pending", idle, ["invoices:write"]),
        ):
            issued = await api_keys.create_api_key(
                session=session, merchant_id=merchant.id, scopes=scopes, name=label, clock=clock, actor="t"
            )
            keys[label] = issued.plaintext
    runtime = make_runtime(session_factory, clock)
    runtime.rate_limiter = MemoryRateLimiter(now=lambda: clock.now().timestamp())
    transport = httpx.ASGITransport(app=_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, keys, session_factory


def _auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def test_keys_scopes_and_errors(setup: tuple[httpx.AsyncClient, dict[str, str], Factory]) -> None:
    client, keys, _factory = setup
    cases = [
        ({}, 401, "unauthorized"),
        (_auth("kbt_live_nope_nope"), 401, "unauthorized"),
        (_auth(keys["reader"]), 403, "insufficient_scope"),
        (_auth(keys["pending"]), 403, "merchant_not_active"),
    ]
    for headers, status, code in cases:
        answer = await client.post("/api/v1/things", json={"name": "a"}, headers=headers)
        assert answer.status_code == status and answer.json()["code"] == code, answer.text
        assert set(answer.json()) == {"code", "message"}
    bad = await client.post("/api/v1/things", json={"name": ""}, headers=_auth(keys["writer"]))
    assert (
        bad.status_code == 422 and bad.json()["code"] == "invalid_request" and "name" in bad.json()["message"]
    )
    made = await client.post("/api/v1/things", json={"name": "a"}, headers=_auth(keys["writer"]))
    assert made.status_code == 201 and made.json()["name"] == "a"


async def test_idempotency_key(setup: tuple[httpx.AsyncClient, dict[str, str], Factory]) -> None:
    client, keys, factory = setup
    headers = _auth(keys["writer"], **{"Idempotency-Key": "order-1"})
    first = await client.post("/api/v1/things", json={"name": "a"}, headers=headers)
    again = await client.post(
        "/api/v1/things", content=b'{ "name" :"a"}', headers={**headers, "Content-Type": "application/json"}
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await client.post("/api/v1/things", json={"name": "b"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    bad_key = await client.post(
        "/api/v1/things", json={"name": "a"}, headers=_auth(keys["writer"], **{"Idempotency-Key": ""})
    )
    assert bad_key.status_code == 400 and bad_key.json()["code"] == "invalid_idempotency_key"
    async with factory() as session:
        created = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "thing.created")
        assert (await session.execute(created)).scalar_one() == 1


async def test_per_key_rate_limit(setup: tuple[httpx.AsyncClient, dict[str, str], Factory]) -> None:
    client, keys, _factory = setup
    answers = [
        (await client.post("/api/v1/things", json={"name": "a"}, headers=_auth(keys["reader"]))).status_code
        for _ in range(602)
    ]
    assert answers[:600] == [403] * 600 and answers[600:] == [429, 429]
    limited = await client.post("/api/v1/things", json={"name": "a"}, headers=_auth(keys["reader"]))
    assert limited.json()["code"] == "rate_limited" and "retry-after" in limited.headers
    other_key = await client.post("/api/v1/things", json={"name": "a"}, headers=_auth(keys["writer"]))
    assert other_key.status_code == 201


async def test_guessing_keys_is_limited_per_address(
    setup: tuple[httpx.AsyncClient, dict[str, str], Factory],
) -> None:
    client, _keys, _factory = setup
    answers = [
        (
            await client.post("/api/v1/things", json={"name": "a"}, headers=_auth(f"kbt_live_{n:x}_guess"))
        ).status_code
        for n in range(31)
    ]
    assert answers == [401] * 30 + [429]
