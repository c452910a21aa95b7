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

The webhook has already answered 200 when that round trip is made, so Telegram will not send the update
again: a Redis connection error or timeout there (a blip, a failover) is retried after a short wait
(`RETRY_DELAYS`, the slot given back while waiting; the user's later updates still wait behind it). If it
never gets through, the update is not handled (whether it was a first delivery is unknown, and a money
step must never run twice): it is logged and counted (`telegram.update_unchecked`) and the user is told,
in their Telegram language, to send it again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from typing import Any

import redis.exceptions
from telegram import Update
from telegram.ext import BaseUpdateProcessor

from channels.telegram import texts
from channels.telegram.conversation import PREFETCHED, language_of
from core import telemetry
from core.telegram.store import ChatStateStore

log = logging.getLogger(__name__)

# Updates started by PTB's own (FIFO) semaphore: large, so its queue is never where order is decided
STARTED_AT_MOST = 100_000
# Updates handled at once; the rest wait in order. Most of an update's time is its Bot API round trips
# (no database connection held): 16 at ~100 ms each is ~160 updates/s, five times Telegram's 30
# messages/s, while at most 16 of the web process's 20 database connections are ever the bot's.
CONCURRENCY = 16
# Seconds before each retry of the update_id check after a Redis connection error or timeout: a Redis
# failover takes seconds, so the last waits are long (3.4 s in all, then the update is given up).
RETRY_DELAYS = (0.1, 0.3, 1.0, 2.0)
# Redis could not be reached in time (redis-py's, and the built-in ones a socket raises)
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, TimeoutError)
# Longest wait for the "send it again" reply (it goes through the bot's pacing, itself in Redis)
TELL_SECONDS = 5.0


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

    def __init__(
        self,
        concurrency: int = CONCURRENCY,
        *,
        states: ChatStateStore | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        """`states`: where update_ids seen and users' states are kept (None: no redelivery check);
        `retry_delays`: the waits before each retry of that check when Redis cannot be reached."""
        super().__init__(max_concurrent_updates=STARTED_AT_MOST)
        self.concurrency = concurrency
        self.states = states
        self.retry_delays = retry_delays
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
            delays = iter(self.retry_delays)
            while True:
                async with self._slots:
                    try:
                        first = await self._first_delivery(update, key)
                    except UNREACHABLE as exc:
                        delay = next(delays, None)
                        if delay is None:
                            await self._given_up(update, exc)
                            break
                        log.warning(
                            "telegram update %s: Redis unreachable at its update_id check (%s), retry in %ss",
                            getattr(update, "update_id", None), type(exc).__name__, delay,
                        )  # fmt: skip
                    else:
                        if first:
                            started = True
                            await coroutine
                        break
                await asyncio.sleep(delay)  # the slot given back: other users' updates go on
        finally:
            if not started and inspect.iscoroutine(coroutine):  # a redelivery, given up, or cancelled
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

    async def _given_up(self, update: object, exc: BaseException) -> None:
        """The update_id check never got through: the update is not handled (it may be a redelivery of
        one already acted on), counted, and its user asked to send it again."""
        update_id = getattr(update, "update_id", None)
        log.error(
            "telegram update %s not handled: Redis unreachable at its update_id check, %d retries (%s: %s)",
            update_id, len(self.retry_delays), type(exc).__name__, exc,
        )  # fmt: skip
        telemetry.count("telegram.update_unchecked", reason=type(exc).__name__)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        text = texts.t("telegram.redis_unavailable", language_of(update))
        try:
            await asyncio.wait_for(
                update.get_bot().send_message(update.effective_chat.id, text), TELL_SECONDS
            )
        except Exception:  # no bot, Telegram refused, or its pacing needs Redis too: nothing more to do
            log.warning(
                "telegram update %s: could not tell the user to send it again", update_id, exc_info=True
            )
