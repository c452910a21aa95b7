"""Telegram per-chat ordering (real Redis), what happens to queued updates nobody handled in time:
one dropped as too old at its turn is counted and its user told once, in their language, to send it
again; a chat queue left with neither holder nor watcher (their processes shut down) is drained by the
next process to start, without the user writing again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from prometheus_client import REGISTRY
from telegram import Update

from channels.telegram.ordering import PerChatOrder
from core import telemetry
from core.i18n import translate
from core.telegram.store import RedisChatStates
from tests.integration.telegram.test_ordering_across_processes import _until
from tests.integration.telegram.test_ordering_redis_errors import RecordingBot, _update
from webapp.observability.metrics import count_event

USER = 4712  # this file's chat (other ordering tests use others)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Any]:
    client = redis.asyncio.Redis.from_url(redis_url)
    for prefix in ("lease", "queue", "bodies", "arrivals"):
        await client.delete(f"kibeti:tg:{prefix}:u{USER}")
    yield client
    await client.aclose()


def _expired_count() -> float:
    return REGISTRY.get_sample_value("kibeti_telegram_updates_expired_total", {"chat": "user"}) or 0.0


class Recording:
    """Stands in for the Application: records the updates it handles; `gate` holds each until set."""

    def __init__(self, bot: Any = None, gate: asyncio.Event | None = None) -> None:
        self.bot = bot
        self.gate = gate
        self.handled: list[int] = []

    async def process_update(self, update: object) -> None:
        assert isinstance(update, Update)
        if self.gate is not None:
            await self.gate.wait()
        self.handled.append(update.update_id)


async def test_queued_updates_too_old_at_their_turn_are_counted_and_the_user_told_once(
    redis_client: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "_sink", count_event)  # as the web app's start-up installs it
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
    bot_a, bot_b = RecordingBot(), RecordingBot()
    app_a, app_b = Recording(bot_a), Recording(bot_b)
    a = PerChatOrder(states=RedisChatStates(clients[0], lease_ms=300, queued_max_ms=200))
    b = PerChatOrder(states=RedisChatStates(clients[1], lease_ms=300, queued_max_ms=200))
    a.bind(app_a)
    b.bind(app_b)
    for p in (a, b):
        await p.initialize()
    first_done = asyncio.Event()
    own: list[int] = []

    async def a_first() -> None:
        await first_done.wait()
        own.append(9501)

    async def b_queued(update_id: int) -> None:
        own.append(update_id)

    before = _expired_count()
    try:
        holding = asyncio.create_task(a.process_update(_update(9501, USER, bot_a, "sw"), a_first()))

        async def a_holds() -> bool:
            return bool(await redis_client.exists(f"kibeti:tg:lease:u{USER}"))

        await _until("A holds the chat", a_holds)
        # two updates queued behind A (B watches them), both sent in Swahili
        for update_id in (9502, 9503):
            await b.process_update(_update(update_id, USER, bot_b, "sw"), b_queued(update_id))
        await asyncio.sleep(0.5)  # A's update takes longer than the queued ones may wait (0.2 s)
        first_done.set()
        await holding

        async def queue_empty() -> bool:
            return not await redis_client.exists(f"kibeti:tg:queue:u{USER}")

        await _until("the chat's queue emptied", queue_empty)
        assert own == [9501], "the queued updates are not handled"
        assert app_a.handled == app_b.handled == []
        for update_id in (9502, 9503):
            assert await redis_client.get(f"kibeti:tg:update:{update_id}") == b"d"
        # the user is told once (A dropped them), in their language, to send it again
        assert bot_a.sent == [(USER, translate("telegram.redis_unavailable", "sw"))]
        assert bot_b.sent == []
        assert _expired_count() - before == 2
    finally:
        first_done.set()
        for p in (a, b):
            await p.shutdown()
        for c in clients:
            await c.aclose()


async def test_a_queue_left_without_holder_or_watcher_is_drained_by_the_next_process_to_start(
    redis_client: Any, redis_url: str
) -> None:
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(3)]
    never = asyncio.Event()
    app_a, app_b, app_c = Recording(gate=never), Recording(), Recording()
    a, b = (PerChatOrder(states=RedisChatStates(c, lease_ms=300)) for c in clients[:2])
    c = PerChatOrder(states=RedisChatStates(clients[2], lease_ms=300), recover=True)
    a.bind(app_a)
    b.bind(app_b)
    c.bind(app_c)
    for p in (a, b):
        await p.initialize()
    own: list[int] = []

    async def a_first() -> None:
        await never.wait()  # A dies handling it

    async def b_queued(update_id: int) -> None:
        own.append(update_id)

    try:
        holding = asyncio.create_task(a.process_update(_update(9601, USER, RecordingBot()), a_first()))

        async def a_holds() -> bool:
            return bool(await redis_client.exists(f"kibeti:tg:lease:u{USER}"))

        await _until("A holds the chat", a_holds)
        for update_id in (9602, 9603):
            await b.process_update(_update(update_id, USER, RecordingBot()), b_queued(update_id))
        await b.shutdown()  # B shuts down: its watchers are cancelled
        holding.cancel()  # A dies mid-update: its lease lapses
        await asyncio.gather(holding, return_exceptions=True)

        async def lease_gone() -> bool:
            return not await redis_client.exists(f"kibeti:tg:lease:u{USER}")

        await _until("A's lease lapsed", lease_gone)
        assert await redis_client.zcard(f"kibeti:tg:queue:u{USER}") == 2, "left queued, unwatched"

        await c.initialize()  # a process starts: nobody writes in the chat

        async def drained() -> bool:
            return not await redis_client.exists(f"kibeti:tg:queue:u{USER}")

        await _until("the chat's queue drained", drained, seconds=10.0)
        mine = [u for u in app_c.handled if u in (9602, 9603)]
        assert mine == [9602, 9603], "each once, in order, by the new process"
        assert own == [] and app_b.handled == []
        for update_id in (9602, 9603):
            assert await redis_client.get(f"kibeti:tg:update:{update_id}") == b"d"
        assert not await redis_client.exists(f"kibeti:tg:lease:u{USER}"), "the chat released"
    finally:
        never.set()
        for p in (a, b, c):
            await p.shutdown()
        for client in clients:
            await client.aclose()
