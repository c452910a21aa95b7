"""At shutdown, a watcher that took over a chat (its holder died) and is inside a handler finishes that
update (PerChatOrder.shutdown cancels only the watchers still waiting). Real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio
from telegram import Update

from channels.telegram.ordering import PerChatOrder
from core.telegram.store import RedisChatStates
from tests.integration.telegram.test_ordering_across_processes import USER, _until, _update


async def test_a_watcher_holding_a_chat_finishes_its_update_at_shutdown(
    redis_client: Any, redis_url: str
) -> None:
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
    a, b = (PerChatOrder(states=RedisChatStates(c, lease_ms=300)) for c in clients)
    events: list[str] = []

    class Bound:
        bot = None

        async def process_update(self, update: object) -> None:
            assert isinstance(update, Update)
            events.append(f"start {update.update_id}")
            try:
                await asyncio.sleep(1.0)  # a handler's Bot API / DB round trips
            except asyncio.CancelledError:
                events.append(f"cancelled {update.update_id}")
                raise
            events.append(f"done {update.update_id}")

    for p in (a, b):
        p.bind(Bound())
        await p.initialize()
    never = asyncio.Event()

    async def dies() -> None:
        await never.wait()

    async def own() -> None:
        events.append("own")

    try:
        dying = asyncio.create_task(a.process_update(_update(9301), dies()))

        async def a_holds() -> bool:
            return bool(await redis_client.exists(f"kibeti:tg:lease:u{USER}"))

        await _until("A holds", a_holds)
        await b.process_update(_update(9302), own())
        dying.cancel()
        await asyncio.gather(dying, return_exceptions=True)

        async def started() -> bool:
            return bool(events)

        await _until("B's watcher handles 9302", started)
        await b.shutdown()  # what Application.shutdown() does after stop() waited for PTB's tasks
        assert not any(e.startswith("cancelled") for e in events), events
        assert events == ["start 9302", "done 9302"], events
    finally:
        never.set()
        for p in (a, b):
            await p.shutdown()
        for c in clients:
            await c.aclose()
