"""The bot's update processor (channels.telegram.ordering.PerChatOrder): different users' updates are
handled at the same time, one user's in the order they came, and at most `concurrency` at once."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import httpx
from telegram import Update
from telegram.ext import Application

from channels.telegram.bot import embedded_double
from channels.telegram.conversation import PREFETCHED
from channels.telegram.ordering import PerChatOrder, order_key
from core import runtime as runtime_module
from core.config import Settings
from core.telegram.store import MemoryChatStates
from tests.integration.telegram.conftest import close_runtime
from webapp.app import create_app
from webapp.bootstrap import build_runtime


def _update(update_id: int, user_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id, "date": 1, "text": "hi",
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            },
        },
        None,
    )  # fmt: skip


async def _feed(processor: PerChatOrder, updates: list[tuple[Update, Any]]) -> list[asyncio.Task[None]]:
    """As PTB's update fetcher does: one task per update, created in queue order."""
    tasks = [asyncio.create_task(processor.process_update(u, c)) for u, c in updates]
    await asyncio.sleep(0)
    return tasks


async def test_a_slow_chat_holds_up_only_its_own_later_updates() -> None:
    processor = PerChatOrder()
    await processor.initialize()
    done: list[int] = []
    release_first = asyncio.Event()

    async def handle(update_id: int, wait: asyncio.Event | None = None) -> None:
        if wait is not None:
            await wait.wait()
        done.append(update_id)

    tasks = await _feed(
        processor,
        [
            (_update(1, 501), handle(1, release_first)),  # user 501's first update is slow
            (_update(2, 501), handle(2)),  # user 501's second must wait for it
            (_update(3, 777), handle(3)),  # another user's is not held up
        ],
    )
    for _ in range(20):
        await asyncio.sleep(0)
    assert done == [3], "the other user's update was held up, or 501's second overtook its first"
    release_first.set()
    await asyncio.gather(*tasks)
    assert done == [3, 1, 2]
    assert not processor._last, "finished users are forgotten"


async def test_one_users_updates_keep_their_order_under_load() -> None:
    processor = PerChatOrder(concurrency=4)
    await processor.initialize()
    seen: dict[int, list[int]] = {}
    running = 0
    most = 0

    async def handle(user_id: int, n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001 * ((n * 7 + user_id) % 3))  # uneven work
        seen.setdefault(user_id, []).append(n)
        running -= 1

    updates = [(_update(n * 10 + u, u), handle(u, n)) for n in range(12) for u in (1, 2, 3, 4, 5, 6)]
    await asyncio.gather(*await _feed(processor, updates))
    assert all(order == list(range(12)) for order in seen.values()), seen
    assert len(seen) == 6
    assert most == 4, "at most `concurrency` at once, and that many when there is work"


async def test_a_cancelled_update_does_not_hold_up_the_next() -> None:
    processor = PerChatOrder()
    await processor.initialize()
    done: list[int] = []
    never = asyncio.Event()

    async def handle(update_id: int, wait: asyncio.Event | None = None) -> None:
        if wait is not None:
            await wait.wait()
        done.append(update_id)

    first, second, third = await _feed(
        processor, [(_update(1, 9), handle(1, never)), (_update(2, 9), handle(2)), (_update(3, 9), handle(3))]
    )
    await asyncio.sleep(0)
    second.cancel()  # waiting its turn: its handler never runs, and is closed (no "never awaited")
    first.cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    await third
    assert done == [3]


def test_the_key_is_the_user_then_the_chat() -> None:
    assert order_key(_update(1, 42)) == ("user", 42)
    channel_post = Update.de_json(
        {
            "update_id": 2,
            "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "channel"}},
        },
        None,
    )
    assert order_key(channel_post) == ("chat", -100)
    assert order_key(object()) == ("other",)


SECRET = "dev-telegram-webhook-secret"  # the embedded default's


def _start(update_id: int, user_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1, "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "A", "language_code": "en"},
            "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }  # fmt: skip


async def _until(what: str, predicate: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_the_web_process_bot_answers_one_chat_while_another_waits_on_telegram(sqlite_url: str) -> None:
    """The embedded app's bot, webhook to the in-process double: chat A's reply is stuck in its Bot API
    call; chat B, which wrote after A, is answered meanwhile; A's next update waits for A's first."""
    rt = build_runtime(Settings(kibeti_env="test", database_url=sqlite_url, redis_url=""))
    runtime_module.install(rt)
    app = create_app(rt, run_scheduler_inside=False)
    application = rt.telegram_application
    assert isinstance(application, Application)
    assert isinstance(application.update_processor, PerChatOrder)
    double = embedded_double(rt)
    request = application.bot.request
    real_do_request = request.do_request
    release = asyncio.Event()
    held: list[str] = []  # the slow chat's messages waiting on Telegram
    slow_chat, other_chat = 9001, 9002

    async def do_request(url: str, method: str, request_data: Any = None, **kwargs: Any) -> Any:
        params = request_data.json_parameters if request_data is not None else {}
        if url.endswith("/sendMessage") and params.get("chat_id") == str(slow_chat):
            held.append(str(params.get("text")))
            await release.wait()  # Telegram is slow to answer this chat's message
        return await real_do_request(url, method, request_data, **kwargs)

    request.do_request = do_request
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        for update in (_start(1, slow_chat), _start(2, other_chat), _start(3, slow_chat)):
            assert (await client.post(f"/telegram/{SECRET}", json=update, headers=headers)).status_code == 200
        await _until("the other chat's reply", lambda: double.sent_to(other_chat))
        await asyncio.sleep(0.2)
        assert not double.sent_to(slow_chat)
        assert len(held) == 1, "the slow chat's second update started before its first was answered"
        release.set()
        await _until("both of the slow chat's replies", lambda: len(double.sent_to(slow_chat)) == 2)
        assert len(held) == 2
    await close_runtime(rt)


async def test_a_redelivered_update_is_dropped_and_the_first_gets_its_users_state() -> None:
    states = MemoryChatStates()
    await states.save(31, {"state": "idle", "data": {}})
    processor = PerChatOrder(states=states)
    await processor.initialize()
    seen: list[object] = []

    async def handle() -> None:
        seen.append(PREFETCHED.get())

    copy = handle()
    await asyncio.gather(*await _feed(processor, [(_update(70, 31), handle()), (_update(70, 31), copy)]))
    assert seen == [(31, {"state": "idle", "data": {}})], "handled once, with the state read for it"
    assert inspect.getcoroutinestate(copy) == inspect.CORO_CLOSED, "the redelivery's handler was closed"
