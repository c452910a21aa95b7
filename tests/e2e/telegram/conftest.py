"""Telegram end to end: the real app on PostgreSQL and Redis, python-telegram-bot pointed at the Bot
API double over HTTP (TELEGRAM_API_BASE_URL), updates posted to the webhook as Telegram's JSON,
SMS codes read from the Africa's Talking fake. Nothing leaves this machine."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from channels.telegram.bot import stop_application
from core import runtime as runtime_module
from core.config import Settings
from core.identity import service as identity
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import BotApiDouble, BotCall, DoubleServer
from webapp.app import create_app
from webapp.bootstrap import build_runtime

TOKEN = "123456:TEST-token"
SECRET = "e2e-telegram-webhook-secret_0123456789"
WAIT_SECONDS = 30  # a deadline for polling, not a timing assertion
_update_ids = itertools.count(1_000_000)  # clear of the literal update_ids some tests post
_message_ids = itertools.count(1)
_LOCAL = ("127.", "::1", "localhost")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connect to anything but this machine fails the test."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOCAL):
            raise AssertionError(f"a Telegram test tried to reach the network: {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(autouse=True)
def quick_chats(monkeypatch: pytest.MonkeyPatch) -> None:
    """The double is not Telegram: no one-message-a-second per chat here (tests/integration/telegram/
    test_pacing.py checks the pacing itself)."""
    from channels.telegram import pacing

    monkeypatch.setattr(pacing, "CHAT_INTERVAL", 0.001)


@pytest.fixture
def at_fake() -> Iterator[FakeAfricasTalking]:
    server = FakeAfricasTalking().start()
    yield server
    server.stop()


@pytest.fixture
def bot_api() -> Iterator[DoubleServer]:
    server = DoubleServer(BotApiDouble(token=TOKEN)).start()
    yield server
    server.stop()


@pytest.fixture
async def tg_runtime(
    clean_pg_url: str, redis_url: str, at_fake: FakeAfricasTalking, bot_api: DoubleServer
) -> AsyncIterator[Runtime]:
    settings = Settings(
        kibeti_env="test", database_url=clean_pg_url, redis_url=redis_url, at_base_url=at_fake.url,
        telegram_bot_token=TOKEN, telegram_webhook_secret=SECRET, telegram_api_base_url=bot_api.base_url,
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.install(rt)
    yield rt
    await stop_application(rt)
    if rt.redis is not None:
        await rt.redis.aclose()
    rt.queue.connection.close()  # type: ignore[attr-defined]
    await rt.session_factory.kw["bind"].dispose()


@pytest.fixture
async def client(tg_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(tg_runtime, run_scheduler_inside=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def post_update(client: httpx.AsyncClient, update: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"/telegram/{SECRET}", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )


async def wait_for(predicate: Any, what: str) -> None:
    """Poll until `predicate()` holds (the bot answers from its queue, after the webhook's 200)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class TelegramUser:
    """A person in a private chat with the bot: each action posts one real-shaped update."""

    def __init__(
        self, client: httpx.AsyncClient, double: BotApiDouble, user_id: int, language: str = "en"
    ) -> None:
        self.client, self.double, self.user_id, self.language = client, double, user_id, language
        self.seen = 0

    @property
    def sender(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": "Wanjiku", "language_code": self.language}

    def message(self, **content: Any) -> dict[str, Any]:
        return {
            "update_id": next(_update_ids),
            "message": {
                "message_id": next(_message_ids), "date": int(time.time()),
                "chat": {"id": self.user_id, "type": "private", "first_name": "Wanjiku"},
                "from": self.sender, **content,
            },
        }  # fmt: skip

    async def command(self, text: str) -> list[BotCall]:
        command = text.split()[0]
        entities = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self.send(self.message(text=text, entities=entities))

    async def say(self, text: str) -> list[BotCall]:
        return await self.send(self.message(text=text))

    async def share_contact(self, phone: str, *, owner: int | None = None) -> list[BotCall]:
        contact = {"phone_number": phone, "first_name": "Wanjiku", "user_id": owner or self.user_id}
        return await self.send(self.message(contact=contact))

    async def tap(self, data: str) -> list[BotCall]:
        return await self.send(self.callback(data))

    def callback(self, data: str) -> dict[str, Any]:
        """A tap on one of the bot's inline buttons carrying `data`."""
        query = {
            "id": f"cq{next(_update_ids)}", "chat_instance": "ci-1", "data": data, "from": self.sender,
            "message": {
                "message_id": 1, "date": int(time.time()), "text": "menu",
                "chat": {"id": self.user_id, "type": "private"},
            },
        }  # fmt: skip
        return {"update_id": next(_update_ids), "callback_query": query}

    async def send(self, update: dict[str, Any]) -> list[BotCall]:
        """Post the update and return the messages the bot sent this chat in answer (at least one)."""
        response = await post_update(self.client, update)
        assert response.status_code == 200, response.text
        return await self.replies()

    async def replies(self) -> list[BotCall]:
        await wait_for(lambda: len(self.double.sent_to(self.user_id)) > self.seen, "the bot's reply")
        new = self.double.sent_to(self.user_id)[self.seen :]
        self.seen += len(new)
        return new


async def register(rt: Runtime, phone: str, *, name: str = "Wanjiku Kamau", language: str = "en") -> None:
    async with rt.session_factory() as session:
        await identity.register_customer(
            session=session, phone=phone, name=name, national_id=f"2{phone[-7:]}", language=language, pin="4826",
        )  # fmt: skip
        await session.commit()


async def sms_code(rt: Runtime, at_fake: FakeAfricasTalking, phone: str) -> str:
    """Deliver the queued SMS through the AT fake and read the code, as a customer would."""
    from tests.e2e.ussd.conftest import deliver_sms

    await deliver_sms(rt)
    messages = at_fake.messages_for(phone)
    assert messages, "no SMS reached the phone"
    return "".join(ch for ch in messages[-1].message if ch.isdigit())[:6]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """GC can finalise another fixture's loop/socket during these tests; that is not ours to fail on."""
    for item in items:
        if "e2e/telegram" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
