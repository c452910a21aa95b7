"""A queued update's watcher keeps watching while the chat's live holder handles it (claimed, not done):
if that holder dies mid-update, the watcher takes the chat and handles it, instead of the update
waiting in the chat's queue until the user's next message (and being replayed before it). Real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio
from telegram import Update

from channels.telegram.ordering import PerChatOrder
from core.telegram.store import RedisChatStates
from tests.integration.telegram.test_ordering_across_processes import USER, _until, _update


async def test_a_queued_update_whose_holder_dies_handling_it_is_taken_by_its_watcher(
    redis_client: Any, redis_url: str
) -> None:
    clients = [redis.asyncio.Redis.from_url(redis_url) for _ in range(2)]
    a, b = (PerChatOrder(states=RedisChatStates(c, lease_ms=300)) for c in clients)
    handled: list[int] = []
    never = asyncio.Event()
    first_done = asyncio.Event()

    class BoundA:
        bot = None

        async def process_update(self, update: object) -> None:
            assert isinstance(update, Update)
            # A handles B's queued update and dies doing it (hangs; then is cancelled)
            await asyncio.sleep(0.5)  # longer than a lease period: B's watcher checks meanwhile
            await never.wait()

    class BoundB:
        bot = None

        async def process_update(self, update: object) -> None:
            assert isinstance(update, Update)
            handled.append(update.update_id)

    a.bind(BoundA())
    b.bind(BoundB())
    for p in (a, b):
        await p.initialize()

    async def a_first() -> None:
        await first_done.wait()

    async def b_own() -> None:
        handled.append(9202)

    try:
        holding = asyncio.create_task(a.process_update(_update(9201), a_first()))

        async def a_holds() -> bool:
            return bool(await redis_client.exists(f"kibeti:tg:lease:u{USER}"))

        await _until("A holds", a_holds)
        await b.process_update(_update(9202), b_own())  # queued behind A, B watches it
        first_done.set()  # A finishes 9201, takes 9202 from the queue and hangs on it

        async def claimed_by_a() -> bool:
            v = await redis_client.get("kibeti:tg:update:9202")
            return v is not None and v.startswith(b"c:")

        await _until("A claims 9202", claimed_by_a)
        await asyncio.sleep(0.45)  # B's watcher wakes and sees it claimed by the live holder
        holding.cancel()  # A dies mid-update
        await asyncio.gather(holding, return_exceptions=True)
        # well beyond the lease: someone should take 9202 again (as for a begin-path holder death)
        await asyncio.sleep(3.0)
        stranded = 9202 not in handled

        async def b_next() -> None:
            handled.append(9203)

        await b.process_update(_update(9203), b_next())  # the user writes again (could be hours later)
        assert not stranded, "9202 stranded in the chat's queue: nobody drains it"
        assert handled == [9202, 9203], "each once, in order"
    finally:
        never.set()
        for p in (a, b):
            await p.shutdown()
        for c in clients:
            await c.aclose()
