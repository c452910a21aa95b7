"""Two apps in one process, each built with its own Runtime: every request is answered with its
app's runtime, never with the one installed last for jobs (the second app's start-up installs its
own): the phone simulator's shortcode and the PesaPal simulator's mount tell them apart."""

from __future__ import annotations

import contextlib

import httpx

from core import runtime as runtime_module
from core.config import Settings
from tests.integration.telegram.conftest import close_runtime
from webapp.app import create_app
from webapp.bootstrap import build_runtime


async def test_each_app_answers_with_its_own_runtime(sqlite_url: str) -> None:
    first = build_runtime(
        Settings(kibeti_env="test", database_url=sqlite_url, redis_url="", at_shortcode="*483*1#")
    )
    second = build_runtime(
        Settings(kibeti_env="test", database_url=sqlite_url, redis_url="", at_shortcode="*384*2#")
    )
    assert first.pesapal_simulator is not None  # the embedded default mounts one
    second.pesapal_simulator = None  # this one has none: its /pesapal-sim answers 404
    previous = runtime_module._current
    apps = [create_app(first, run_scheduler_inside=False), create_app(second, run_scheduler_inside=False)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = []
            for app in apps:
                await stack.enter_async_context(app.router.lifespan_context(app))
                transport = httpx.ASGITransport(app=app)
                clients.append(
                    await stack.enter_async_context(
                        httpx.AsyncClient(transport=transport, base_url="http://app")
                    )
                )
            assert runtime_module.get() is second  # installed last
            one, two = clients
            assert "*483*1#" in (await one.get("/simulator/phone")).text
            assert "*384*2#" in (await two.get("/simulator/phone")).text
            assert (await one.get("/pesapal-sim/")).status_code != 404
            assert (await two.get("/pesapal-sim/")).status_code == 404
    finally:
        runtime_module._current = previous
        await close_runtime(first)
        await close_runtime(second)
