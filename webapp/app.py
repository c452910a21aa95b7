"""The ASGI application: every router under webapp/api, one lifespan that wires the Runtime.

Embedded default (no REDIS_URL): the scheduler (outbox relay, periodic jobs) and the job queue run
inside this process, so `make run` needs nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import pkgutil
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.routing import BaseRoute

from core import runtime as runtime_module
from core.runtime import Runtime
from webapp import api, docs, route_index
from webapp.bootstrap import build_runtime, wire_job_handlers, wire_web
from webapp.observability.metrics import MetricsMiddleware
from webapp.queues import InProcessJobQueue
from webapp.scheduler import run_scheduler
from webapp.web import mount as web_mount

# Matched first: FastAPI tries routes in order, and a USSD hop (every keypress of every session) or a
# Telegram update would otherwise be tried against every staff route before its own. Their paths
# start with /ussd/ and /telegram, which no other router serves, so the order changes no match.
_FIRST = ("ussd", "telegram")


def _routers() -> list[object]:
    found = []
    modules = pkgutil.iter_modules(api.__path__)
    first = {name: rank for rank, name in enumerate(_FIRST)}
    for info in sorted(modules, key=lambda m: (first.get(m.name, len(_FIRST)), m.name)):
        module = importlib.import_module(f"{api.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            found.append(router)
    return found


def _first_routes() -> list[BaseRoute]:
    """The routes an api module asks to be tried before all others (`first_routes`: the USSD hop,
    reached there without the docs routes and an included router's matching before it)."""
    found: list[BaseRoute] = []
    for info in pkgutil.iter_modules(api.__path__):
        found.extend(getattr(importlib.import_module(f"{api.__name__}.{info.name}"), "first_routes", ()))
    return found


def create_app(
    runtime: Runtime | None = None, *, run_scheduler_inside: bool | None = None, freeze_gc: bool = False
) -> FastAPI:
    """Build the app. Tests pass their own Runtime; `run_scheduler_inside` defaults to embedded mode.
    `freeze_gc`: the served app (webapp.main) moves what start-up built out of the collector's way."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        current = runtime or build_runtime()
        if current.ussd_engine is None:  # a Runtime built for another process kind, or by hand in a test
            wire_web(current)
        wire_job_handlers()  # (again: a Runtime built by hand did not)
        runtime_module.install(current)
        app.state.runtime = current
        if isinstance(current.queue, InProcessJobQueue):
            current.queue.bind(asyncio.get_running_loop())
        inside = current.settings.embedded if run_scheduler_inside is None else run_scheduler_inside
        stop = asyncio.Event()
        scheduler = asyncio.create_task(run_scheduler(current, stop=stop)) if inside else None
        if freeze_gc:
            # Start-up leaves ~250k long-lived objects (routes, models, catalogs, SQLAlchemy's and
            # pydantic's caches) that every full collection walked again: ~0.3 s of CPU once every
            # few thousand USSD hops, stalling every request the worker held (the hop's p99). Frozen,
            # they are never scanned; what requests allocate is collected as before. Not in tests:
            # objects frozen here are never freed, and a test process builds many apps.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            stop.set()
            if scheduler is not None:
                await scheduler
            if isinstance(current.queue, InProcessJobQueue):
                await current.queue.drain()

    app = FastAPI(
        title="Kibeti", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json"
    )
    docs.install(app)  # Swagger UI and ReDoc with their assets served here (offline), not from a CDN
    for router in _routers():
        app.include_router(router)  # type: ignore[arg-type]
    app.router.routes[:0] = _first_routes()
    _install_middleware(app)
    web_mount.install(app)  # the server-rendered portals (/staff ...), their static files and error pages
    app.add_middleware(MetricsMiddleware)  # outermost: times what the client waits for

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> str:
        return _HOME

    route_index.install(app)  # a request is matched only against the routes its first segment allows
    return app


def _install_middleware(app: FastAPI) -> None:
    """Request ids, body limits, rate limits and safe errors (never skipped: an app without them would
    answer tracebacks and take unlimited requests)."""
    from webapp import middleware

    middleware.install(app)


_HOME = """<!doctype html><html><head><meta charset="utf-8"><title>Kibeti</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em}</style>
</head><body><h1>Kibeti</h1>
<p>Crypto and KES wallet and payments for Kenya: USSD, SMS, Telegram and the web, settled to M-Pesa.</p>
<ul>
<li><a href="/phone">USSD phone simulator</a> (dial the shortcode as any test number)</li>
<li><a href="/api/docs">API documentation</a> (<a href="/api/redoc">ReDoc</a>)</li>
<li><a href="/health">Health</a></li>
</ul></body></html>"""
