"""The callback side of the app for integration tests: the M-Pesa router with a Runtime from the env."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from core import runtime as runtime_module
from webapp.api.mpesa import router
from webapp.bootstrap import build_runtime


def create_app() -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = build_runtime()
        runtime_module.install(current)
        yield
        await current.session_factory.kw["bind"].dispose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
