"""How the bot's Application works through its update queue: many chats at once, each chat's updates
one at a time and in the order they came (a PTB update processor).

PTB's default (`concurrent_updates=False`) handles one update at a time for the whole process, so
every update waited for every other chat's: its database reads, its Bot API round trips and its
flood-control wait (a chat over its one message a second held up all the others for that second).
Here an update waits only for the earlier updates of its own user (the conversation's state is kept
per user, and in a private chat the user is the chat), and at most `concurrency` are handled at once.

A redelivered update_id (Telegram retries what got no 200) is dropped here, before any handler runs:
the check (Redis SET NX) and the read of the user's state are one round trip, made once the user's
earlier updates are done, so the state read is the one they left (`conversation.PREFETCHED`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from channels.telegram.conversation import PREFETCHED
from core.telegram.store import ChatStateStore

# Updates started by PTB's own (FIFO) semaphore: large, so its queue is never where order is decided
STARTED_AT_MOST = 100_000
# Updates handled at once; the rest wait in order. Most of an update's time is its Bot API round trips
# (no database connection held): 16 at ~100 ms each is ~160 updates/s, five times Telegram's 30
# messages/s, while at most 16 of the web process's 20 database connections are ever the bot's.
CONCURRENCY = 16


def order_key(update: object) -> object:
    """Whose updates must not overtake each other: the user's (their state is per user), else the
    chat's; anything else (not a user's update) is kept in one line of its own."""
    if isinstance(update, Update):
        user = update.effective_user
        if user is not None:
            return ("user", user.id)
        chat = update.effective_chat
        if chat is not None:
            return ("chat", chat.id)
    return ("other",)


class PerChatOrder(BaseUpdateProcessor):
    """Each user's updates in arrival order; different users' at the same time (up to `concurrency`).

    PTB starts one task per update in queue order, and each task reaches `do_process_update` in that
    order (its semaphore is FIFO and sized never to hold one back); the task registers itself as its
    user's last update before its first await, so the next update of that user waits for it."""

    def __init__(self, concurrency: int = CONCURRENCY, *, states: ChatStateStore | None = None) -> None:
        """`states`: where update_ids seen and users' states are kept (None: no redelivery check)."""
        super().__init__(max_concurrent_updates=STARTED_AT_MOST)
        self.concurrency = concurrency
        self.states = states
        self._slots: asyncio.Semaphore | None = None
        self._last: dict[object, asyncio.Event] = {}  # each user's latest update's "done"

    async def initialize(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    async def shutdown(self) -> None:
        return None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = order_key(update)
        before = self._last.get(key)
        done = self._last[key] = asyncio.Event()
        started = False
        try:
            if before is not None:
                await before.wait()
            if self._slots is None:  # pragma: no cover - PTB initialises the processor on start
                self._slots = asyncio.Semaphore(self.concurrency)
            async with self._slots:
                if await self._first_delivery(update, key):
                    started = True
                    await coroutine
        finally:
            if not started and inspect.iscoroutine(coroutine):  # a redelivery, or cancelled waiting
                coroutine.close()
            done.set()
            if self._last.get(key) is done:
                del self._last[key]

    async def _first_delivery(self, update: object, key: object) -> bool:
        """False for an update_id already acted on; the first time, the user's state comes with it."""
        if self.states is None or not isinstance(update, Update):
            return True
        if isinstance(key, tuple) and key[0] == "user":
            first, state = await self.states.first_delivery_and_load(update.update_id, key[1])
            if first:
                PREFETCHED.set((key[1], state))
            return first
        return await self.states.first_delivery(update.update_id)
