from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.auth import api_keys
from core.auth.models import ApiKey
from core.clock import FixedClock
from core.ratelimit import MemoryRateLimiter
from tests.integration.identity.api_helpers import make_runtime
from tests.integration.identity.helpers import add_merchants
from webapp.deps_auth import check_callback_request, require_api_key
from webapp.middleware import install

Factory = async_sessionmaker[AsyncSession]


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/payments")
    async def payments(key: Annotated[ApiKey, Depends(require_api_key("payments:read"))]) -> dict[str, int]:
        return {"merchant_id": key.merchant_id}

    @app.post("/callbacks/mpesa/{token}")
    async def callback(token: str, request: Request) -> dict[str, str]:
        ip = check_callback_request(request, path_token=token, expected_token="right-token-0123456789abcdef")
        return {"ip": ip}

    install(app)
    return app


async def test_api_key_dependency_and_callback_check(pg_session_factory: Factory) -> None:
    clock = FixedClock()
    async with pg_session_factory() as session:
        await add_merchants(session, 5, 6)
        issued = await api_keys.create_api_key(
            session=session, merchant_id=5, scopes=["payments:read"], name="till", clock=clock, actor="t"
        )
        other = await api_keys.create_api_key(
            session=session, merchant_id=6, scopes=["payouts:write"], name="till", clock=clock, actor="t"
        )
        await session.commit()
    runtime = make_runtime(pg_session_factory, clock)
    runtime.settings.callback_ip_allowlist = ["196.201.214.0/24"]
    runtime.rate_limiter = MemoryRateLimiter(now=lambda: clock.now().timestamp())
    app = build_app()
    app.state.runtime = runtime
    runtime_module.install(runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.get("/api/v1/payments", headers={"Authorization": f"Bearer {issued.plaintext}"})
        assert ok.status_code == 200 and ok.json() == {"merchant_id": 5}
        assert (
            await client.get("/api/v1/payments", headers={"X-API-Key": issued.plaintext})
        ).status_code == 200
        assert (await client.get("/api/v1/payments")).status_code == 401
        assert (
            await client.get("/api/v1/payments", headers={"X-API-Key": "kbt_live_nope_nope"})
        ).status_code == 401
        assert (
            await client.get("/api/v1/payments", headers={"X-API-Key": other.plaintext})
        ).status_code == 403

        via_proxy = {"X-Forwarded-For": "196.201.214.7"}  # the test peer 127.0.0.1 is a trusted proxy
        good = await client.post("/callbacks/mpesa/right-token-0123456789abcdef", headers=via_proxy)
        assert good.status_code == 200 and good.json() == {"ip": "196.201.214.7"}
        assert (await client.post("/callbacks/mpesa/wrong-token", headers=via_proxy)).status_code == 404
        outside = {"X-Forwarded-For": "203.0.113.5"}
        assert (
            await client.post("/callbacks/mpesa/right-token-0123456789abcdef", headers=outside)
        ).status_code == 404
