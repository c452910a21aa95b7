"""The embedded default (no token, no Bot API server): the bot talks to the in-process double, which
the app also serves at /telegram-sim (a simulator); a real bot's process serves no double. The
app's lifespan stops the bot."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from telegram.ext import Application

from channels.telegram.bot import embedded_double
from channels.telegram.conversation import CLOCK_KEY
from core import runtime as runtime_module
from core.config import Settings
from simulators.telegram_bot_api import SIMULATOR_NAME
from tests.integration.telegram.conftest import close_runtime
from webapp.app import create_app
from webapp.bootstrap import BootstrapError, build_runtime

SECRET = "dev-telegram-webhook-secret"  # the embedded default's


def _start_update(chat_id: int) -> dict[str, object]:
    return {
        "update_id": 1,
        "message": {
            "message_id": 1, "date": 1, "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "A", "language_code": "sw"},
            "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }  # fmt: skip


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]


async def test_embedded_bot_answers_through_the_in_process_double(sqlite_url: str) -> None:
    rt = build_runtime(Settings(kibeti_env="test", database_url=sqlite_url, redis_url=""))
    runtime_module.install(rt)
    app = create_app(rt, run_scheduler_inside=False)
    async with app.router.lifespan_context(app), _client(app) as client:
        about = (await client.get("/telegram-sim/botANY/getMe")).json()
        assert about["ok"] and about["result"]["first_name"] == SIMULATOR_NAME
        response = await client.post(
            f"/telegram/{SECRET}",
            json=_start_update(4242),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status_code == 200
        double = embedded_double(rt)
        deadline = time.monotonic() + 30
        while not double.sent_to(4242):
            assert time.monotonic() < deadline, "the embedded bot never answered"
            await asyncio.sleep(0.02)
        assert "Karibu Kibeti" in double.sent_to(4242)[0].params["text"]
        application = rt.telegram_application
        assert application.running
    assert not application.running, "the app's shutdown stops the bot"
    await close_runtime(rt)


async def test_a_real_bot_process_serves_no_double(sqlite_url: str) -> None:
    settings = Settings(
        kibeti_env="test", database_url=sqlite_url, redis_url="",
        telegram_bot_token="123:REAL", telegram_api_base_url="http://127.0.0.1:9/bot",
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.install(rt)
    app = create_app(rt, run_scheduler_inside=False)
    async with app.router.lifespan_context(app), _client(app) as client:
        assert (await client.get("/telegram-sim/bot123:REAL/getMe")).status_code == 404
    assert rt.telegram_double is None
    await close_runtime(rt)


async def test_production_without_a_bot_refuses_the_public_dev_secret(sqlite_url: str) -> None:
    """Else anyone could drive linking (and its SMS codes) with the secret printed in the source."""
    rt = build_runtime(Settings(kibeti_env="test", database_url=sqlite_url, redis_url=""))
    rt.settings = rt.settings.model_copy(update={"kibeti_env": "production"})
    runtime_module.install(rt)
    app = create_app(rt, run_scheduler_inside=False)
    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.post(
            f"/telegram/{SECRET}",
            json=_start_update(4343),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status_code == 403
    assert not rt.telegram_application.running, "no bot was started"
    await close_runtime(rt)


async def test_the_web_process_builds_its_bot_at_start_up(sqlite_url: str) -> None:
    """Built by bootstrap, before any update arrived (starting it, getMe, waits for the first one);
    other process kinds build none."""
    settings = Settings(
        kibeti_env="test", database_url=sqlite_url, redis_url="",
        telegram_bot_token="123:REAL", telegram_api_base_url="http://127.0.0.1:9/bot",
    )  # fmt: skip
    rt = build_runtime(settings)
    application = rt.telegram_application
    assert isinstance(application, Application)
    assert application.bot.token == "123:REAL" and not application.running
    assert application.bot_data[CLOCK_KEY] == rt.clock.now, "the bot reads the runtime's clock"
    await close_runtime(rt)
    worker = build_runtime(settings, kind="worker")
    assert worker.telegram_application is None
    await close_runtime(worker)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("telegram_bot_token", "not-a-token", "TELEGRAM_BOT_TOKEN"),
        ("telegram_api_base_url", "api.telegram.org/bot", "TELEGRAM_API_BASE_URL"),
    ],
)
def test_a_misconfigured_bot_stops_the_web_process_at_start_up(
    sqlite_url: str, setting: str, value: str, named: str
) -> None:
    values: dict[str, Any] = {
        "kibeti_env": "test",
        "database_url": sqlite_url,
        "redis_url": "",
        setting: value,
    }
    settings = Settings(**values)
    with pytest.raises(BootstrapError, match=named):
        build_runtime(settings)
