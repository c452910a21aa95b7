from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.ratelimit import MemoryRateLimiter
from core.runtime import Runtime
from tests.integration.identity.helpers import KEYRING, SECRET_KEY
from webapp.app import create_app
from webapp.queues import InProcessJobQueue


def make_runtime(factory: async_sessionmaker[AsyncSession], clock: FixedClock) -> Runtime:
    settings = Settings(kibeti_env="test", secret_key=SECRET_KEY, trusted_proxies=["127.0.0.1/32"])
    runtime = Runtime(settings=settings, session_factory=factory, clock=clock, queue=InProcessJobQueue())
    runtime.keyring = lambda: KEYRING
    runtime.rate_limiter = MemoryRateLimiter(now=lambda: clock.now().timestamp())
    return runtime


@asynccontextmanager
async def api_client(runtime: Runtime) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(runtime, run_scheduler_inside=False)
    app.state.runtime = runtime
    previous = runtime_module._current
    runtime_module.install(runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 5555))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client
    finally:
        runtime_module._current = previous
