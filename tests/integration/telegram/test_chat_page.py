"""The /chat simulator page on the embedded default (SQLite, no Redis, no bot token): a test user
talks to the real bot through the in-process Bot API double: /start, the contact button, the SMS
code read from the Africa's Talking fake (as /phone shows it), registration, then a QR deposit
address shown as an image. With a real bot configured there is no /chat."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from core import runtime as runtime_module
from core.config import Settings
from tests.e2e.ussd.conftest import deliver_sms
from tests.integration.telegram.conftest import close_runtime
from webapp.app import create_app
from webapp.bootstrap import build_runtime

USER: dict[str, Any] = {"user_id": 700712300077, "first_name": "Amina", "language": "en"}


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]


class Chat:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client, self.since = client, 0

    async def act(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/simulator/chat/update", json={**USER, **body})
        assert response.status_code == 200 and response.json()["status"] == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def events(self, until: str) -> list[dict[str, Any]]:
        """Poll the page's events until one shows `until` (a deadline, not a timing assertion)."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not any(until in e.get("text", "") or until == e.get("method") for e in seen):
            assert time.monotonic() < deadline, f"the bot never showed {until!r}: {seen}"
            await asyncio.sleep(0.05)
            body = (
                await self.client.get(
                    "/simulator/chat/events", params={"chat_id": USER["user_id"], "since": self.since}
                )
            ).json()
            self.since = body["next"]
            seen += body["events"]
        return seen


async def test_a_new_user_registers_and_gets_a_qr_on_the_chat_page(sqlite_url: str) -> None:
    rt = build_runtime(Settings(kibeti_env="test", database_url=sqlite_url, redis_url=""))
    runtime_module.install(rt)
    app = create_app(rt, run_scheduler_inside=False)
    async with app.router.lifespan_context(app), _client(app) as client:
        page = await client.get("/chat")
        assert page.status_code == 200 and "simulated Telegram chat" in page.text
        chat = Chat(client)
        await chat.act(kind="text", text="/start")
        [welcome] = await chat.events("share your phone number")
        assert welcome["keyboard"][0][0]["contact"] is True
        await chat.act(kind="contact", phone="0712300077")
        await chat.events("code by SMS")
        code = ""
        deadline = time.monotonic() + 30
        while not code:
            assert time.monotonic() < deadline, "no SMS code reached the phone"
            await deliver_sms(rt)  # the outbox relay's work (the scheduler is not running here)
            inbox = (await client.get("/simulator/phone/sms", params={"phone": "0712300077"})).json()[
                "messages"
            ]
            code = "".join(ch for ch in (inbox[-1]["message"] if inbox else "") if ch.isdigit())[:6]
            await asyncio.sleep(0.1)
        await chat.act(kind="text", text=code)
        await chat.events("Choose your language")
        await chat.act(kind="tap", data="l:en")
        await chat.events("full name")
        await chat.act(kind="text", text="Amina Wanjiru")
        await chat.events("national ID")
        await chat.act(kind="text", text="23456777")
        await chat.events("date of birth")
        await chat.act(kind="text", text="15.03.1990")
        await chat.events("Choose a 4-digit PIN")
        pin = await chat.act(kind="text", text="4826")
        deleted = await chat.events("deleteMessage")
        assert pin["message_id"] in [e["message_id"] for e in deleted if e["method"] == "deleteMessage"]
        await chat.act(kind="text", text="4826")
        await chat.events("Welcome to Kibeti, Amina Wanjiru")
        await chat.act(kind="tap", data="m:recv")
        await chat.events("Which address")
        await chat.act(kind="tap", data="a:recv:2")
        [qr] = [e for e in await chat.events("sendPhoto") if e["method"] == "sendPhoto"]
        assert qr["html"] and "<b>TRON (TRC20)</b>" in qr["text"]
        image = await client.get(qr["photo"])
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    await close_runtime(rt)


async def test_no_chat_page_with_a_real_bot(sqlite_url: str) -> None:
    settings = Settings(
        kibeti_env="test", database_url=sqlite_url, redis_url="",
        telegram_bot_token="123:REAL", telegram_api_base_url="http://127.0.0.1:9/bot",
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.install(rt)
    app = create_app(rt, run_scheduler_inside=False)
    async with app.router.lifespan_context(app), _client(app) as client:
        assert (await client.get("/chat")).status_code == 404
        assert (
            await client.post("/simulator/chat/update", json={**USER, "kind": "text", "text": "/start"})
        ).status_code == 404
    await close_runtime(rt)
