"""The PesaPal side of the app for integration tests: the IPN route, the return page, the short
links and the simulator (mounted at /pesapal-sim), with a Runtime from the environment."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from core import runtime as runtime_module
from webapp.api.pesapal import router
from webapp.bootstrap import build_runtime


def create_app() -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = build_runtime()
        runtime_module.install(current)  # for the jobs this process runs
        app.state.runtime = current  # for the routes, and the router's start-up (IPN registration)
        yield
        await current.session_factory.kw["bind"].dispose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)

    @app.get("/up")
    async def up() -> dict[str, bool]:
        return {"up": True}

    return app
