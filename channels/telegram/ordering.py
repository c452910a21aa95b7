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

With Redis (production: several API processes behind one webhook, so one chat's updates can land on
two of them) a chat's updates take turns across processes (`core.telegram.store.SharedTurns`): the
check above also takes the chat's lease (one round trip still, when the chat is free). An update whose
chat is held by another process, or by this one's earlier update, is queued in Redis behind the holder
(scored by update_id), and the holder handles the queue before releasing the chat (`_hold`). The
holder renews its lease while it works; one that died frees the chat after `store.LEASE_MS`, and the
process that queued an update checks after each lease period whether it was taken, taking the chat
itself when it is free (`_watching`). The check claims the update_id with the holder's token and marks
it done after handling: a check whose answer was lost (Redis ran it, the client timed out) is asked
again with the same token and gets the same answer, so the update is handled once, never dropped as a
redelivery of itself. Order: this process's updates of one chat ask Redis in arrival order, and those
queued are handled in the order they reached Redis (for updates of one chat that came to two processes,
the order Telegram sent them in, unless one process took longer to ask than Telegram took to send the
next: it is then handled after it, never dropped). A watcher keeps watching while the chat's live
holder handles its update (that holder may die mid-update) and stops once it is done; a queued update
older than `store.QUEUED_MAX_MS` when its turn comes is dropped, logged and counted
(`telegram.update_expired`), not replayed, and its user told once to send it again. At shutdown
the waiting watchers are cancelled and a watcher holding a chat finishes its current update, then
releases the chat (`shutdown`); updates it queued are left to the other processes' watchers, and a chat
queue nobody holds or watches any longer (every process that queued in it shut down) is drained by the
next process to start (`recover`: SCAN of the chats' queues at start-up, a bounded step per call).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.exceptions
from telegram import Update
from telegram.ext import BaseUpdateProcessor

from channels.telegram import texts
from channels.telegram.conversation import PREFETCHED, language_of
from core import telemetry
from core.telegram.store import (
    BUSY,
    CLAIMED,
    GO,
    HOLD,
    LEASE_MS,
    ChatStateStore,
    LeaseLost,
    Queued,
    SharedTurns,
)

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
# How many lease periods a process keeps checking that an update it queued behind another holder was
# taken (a live holder drains the queue; these checks only matter when it died)
WATCH_ROUNDS = 30
# Longest wait at shutdown for the chats this process holds from a watcher (each finishes the update it
# is handling, then releases its chat: the rest of the queue is left to the other processes' watchers)
SHUTDOWN_SECONDS = LEASE_MS / 1000

T = TypeVar("T")


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


def _lane(key: object) -> tuple[str, int | None]:
    """The chat's name in Redis, and the user whose state is read with its turn (None: no state)."""
    if isinstance(key, tuple) and len(key) == 2:
        if key[0] == "user":
            return f"u{key[1]}", int(key[1])
        return f"c{key[1]}", None
    return "o", None


def _lane_user(lane: str) -> int | None:
    """The user whose state a lane's turns read (`_lane`'s, from its name): None but for "u<id>"."""
    if lane.startswith("u"):
        try:
            return int(lane[1:])
        except ValueError:
            return None
    return None


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
        recover: bool = False,
    ) -> None:
        """`states`: where update_ids seen and users' states are kept (None: no redelivery check);
        `retry_delays`: the waits before each retry of that check when Redis cannot be reached;
        `recover`: at start-up (once bound), drain the chats' queues that nobody holds (the bot's)."""
        super().__init__(max_concurrent_updates=STARTED_AT_MOST)
        self.concurrency = concurrency
        self.states = states
        self.retry_delays = retry_delays
        self._slots: asyncio.Semaphore | None = None
        self._last: dict[object, asyncio.Event] = {}  # each user's latest update's "done"
        # across processes (Redis): set by `bind`
        self.turns = states if isinstance(states, SharedTurns) else None
        self._handle: Callable[[object], Awaitable[Any]] | None = None
        self._bot: Any = None
        self._prefix = secrets.token_hex(6)  # this processor's tokens: <prefix>:<n>
        self._tokens = itertools.count(1)
        self._asked: dict[object, asyncio.Event] = {}  # each user's latest update's Redis decision
        self._background: set[asyncio.Task[None]] = set()  # watchers and lease renewals
        self._waiting: set[asyncio.Task[None]] = set()  # watchers not holding their chat (yet)
        self._stopping = False  # shutting down: a holder releases its chat after its current update
        self.recover = recover

    def bind(self, application: Any) -> None:
        """The Application whose `process_update` handles an update taken from a chat's Redis queue
        (and whose bot it is parsed for); until bound, updates are ordered within this process only."""
        self._handle = application.process_update
        self._bot = application.bot

    async def initialize(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)
        if self.recover and self.turns is not None and self._handle is not None:
            self._spawn(self._recovering(self.turns))

    async def _recovering(self, turns: SharedTurns) -> None:
        """Start-up: each chat whose queue is not empty and whose lease nobody holds (its holder
        released it at shutdown or died, and the processes that queued its updates shut down, so
        nobody watches them) is taken and drained here (a task per chat, its updates in the process's
        slots), without waiting for the user's next message. One SCAN step (bounded) per call; chats
        held or empty are left alone."""
        cursor = 0
        try:
            while not self._stopping:
                cursor, lanes = await turns.queued_lanes(cursor)
                for lane in lanes:
                    if self._stopping:
                        return
                    token = f"{self._prefix}:{next(self._tokens)}"
                    if await turns.adopt(lane, token):
                        log.warning(
                            "telegram chat %s: queued updates left without a holder, drained here", lane
                        )
                        self._spawn(self._hold(turns, lane, _lane_user(lane), token))  # chats at once
                if cursor == 0:
                    return
        except UNREACHABLE as exc:
            log.warning("telegram: Redis unreachable recovering chats' queues at start-up (%s)", exc)

    async def shutdown(self) -> None:
        """Watchers still waiting are cancelled; a watcher holding a chat finishes the update it is
        handling and releases the chat (waited for up to `SHUTDOWN_SECONDS`, then cancelled)."""
        self._stopping = True
        for task in list(self._waiting):
            task.cancel()
        if self._background:
            await asyncio.wait(list(self._background), timeout=SHUTDOWN_SECONDS)
        for task in list(self._background):
            log.warning("telegram: a chat's holder still working at shutdown is cancelled")
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self.turns is not None and self._handle is not None and isinstance(update, Update):
            await self._shared_turn(update, coroutine, self.turns)
        else:
            await self._local_turn(update, coroutine)

    def _slots_now(self) -> asyncio.Semaphore:
        if self._slots is None:  # pragma: no cover - PTB initialises the processor on start
            self._slots = asyncio.Semaphore(self.concurrency)
        return self._slots

    async def _local_turn(self, update: object, coroutine: Awaitable[Any]) -> None:
        """One process's order (no Redis: the embedded default)."""
        key = order_key(update)
        before = self._last.get(key)
        done = self._last[key] = asyncio.Event()
        started = False
        try:
            if before is not None:
                await before.wait()
            slots = self._slots_now()
            delays = iter(self.retry_delays)
            while True:
                async with slots:
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

    async def _shared_turn(self, update: Update, coroutine: Awaitable[Any], turns: SharedTurns) -> None:
        """The chat's turn across processes: begin (the fast path: the chat free, one round trip) or
        queue behind its holder; handle, then the chat's queue, while holding its lease."""
        key = order_key(update)
        lane, user_id = _lane(key)
        before = self._asked.get(key)
        asked = self._asked[key] = asyncio.Event()
        started = False
        update_id = update.update_id
        token = f"{self._prefix}:{next(self._tokens)}"
        try:
            if before is not None:  # this process's earlier update of the chat asks Redis first
                await before.wait()
            try:
                outcome, state = await self._retried(
                    lambda: turns.begin(update_id, lane, user_id, token), update_id
                )
                if outcome == BUSY:
                    body = update.to_json()
                    outcome = await self._retried(
                        lambda: turns.enqueue(update_id, lane, token, body), update_id
                    )
                    if outcome == BUSY:
                        watcher = self._spawn(self._watching(turns, update_id, lane, user_id, token, body))
                        self._waiting.add(watcher)
                        watcher.add_done_callback(self._waiting.discard)
            except UNREACHABLE as exc:
                asked.set()
                await self._given_up(update, exc)
                return
            asked.set()
            if outcome == GO:
                started = True
                await self._hold(turns, lane, user_id, token, first=(update_id, state, coroutine))
            elif outcome == HOLD:
                started = True
                await self._hold(turns, lane, user_id, token, own=(update_id, coroutine))
        finally:
            if not started and inspect.iscoroutine(coroutine):  # a redelivery, queued, given up, cancelled
                coroutine.close()
            asked.set()
            if self._asked.get(key) is asked:
                del self._asked[key]

    async def _hold(
        self,
        turns: SharedTurns,
        lane: str,
        user_id: int | None,
        token: str,
        *,
        first: tuple[int, dict[str, Any] | None, Awaitable[Any]] | None = None,
        own: tuple[int, Awaitable[Any]] | None = None,
    ) -> None:
        """Holding the chat's lease: handle `first` (claimed by begin), then each update the chat's
        queue holds, in order, then release the chat. `own`: this task's update, queued
        (handled from its coroutine when its turn comes, not parsed again)."""
        renewal = _Renewal(self, turns, lane, token)
        done: object = None
        coroutine: Awaitable[Any] | None
        try:
            if first is not None:
                done, state, coroutine = first
                await self._handled(done, lane, user_id, state, coroutine)
            while True:
                expired: list[Queued] = []
                try:
                    turn = await self._retried(
                        functools.partial(
                            turns.next_turn, lane, user_id, token, done, self._stopping, expired
                        ),
                        done,
                    )
                except LeaseLost:
                    log.warning("telegram chat %s: its lease went to another holder (this one stalled)", lane)
                    return
                except UNREACHABLE as exc:
                    log.error(
                        "telegram chat %s: Redis unreachable marking update %s done (%s); the lease lapses "
                        "and any queued updates are taken by the processes that queued them",
                        lane, done, type(exc).__name__,
                    )  # fmt: skip
                    return
                finally:
                    if expired:
                        await self._expired(lane, expired)
                if turn is None:
                    return
                done = turn.update_id
                if own is not None and str(own[0]) == turn.update_id:
                    coroutine, own = own[1], None
                else:
                    coroutine = self._parsed(turn.update_id, turn.body)
                await self._handled(done, lane, user_id, turn.state, coroutine)
        finally:
            renewal.stop()
            if own is not None and inspect.iscoroutine(own[1]):  # never reached (taken as handled)
                own[1].close()

    def _parsed(self, update_id: object, body: str) -> Awaitable[Any] | None:
        assert self._handle is not None  # _shared_turn runs only once bound
        try:
            update = Update.de_json(json.loads(body), self._bot)
        except Exception:
            log.error("telegram update %s from the chat's queue is not an Update: dropped", update_id)
            return None
        return self._handle(update)

    async def _handled(
        self,
        update_id: object,
        lane: str,
        user_id: int | None,
        state: dict[str, Any] | None,
        coroutine: Awaitable[Any] | None,
    ) -> None:
        """One update, in one of the process's slots, with the state read for it."""
        if coroutine is None:
            return
        async with self._slots_now():
            if user_id is not None:
                PREFETCHED.set((user_id, state))
            try:
                await coroutine
            except Exception:  # PTB answers handler errors itself; the chat goes on regardless
                log.exception("telegram update %s (chat %s) failed", update_id, lane)

    async def _retried(self, call: Callable[[], Awaitable[T]], update_id: object) -> T:
        """`call` again after each of `retry_delays` while Redis cannot be reached (the same arguments:
        a call whose answer was lost gets the same answer)."""
        delays = iter(self.retry_delays)
        while True:
            try:
                return await call()
            except UNREACHABLE as exc:
                delay = next(delays, None)
                if delay is None:
                    raise
                log.warning(
                    "telegram update %s: Redis unreachable at its turn (%s), retry in %ss",
                    update_id, type(exc).__name__, delay,
                )  # fmt: skip
            await asyncio.sleep(delay)

    async def _watching(
        self, turns: SharedTurns, update_id: int, lane: str, user_id: int | None, token: str, body: str
    ) -> None:
        """An update queued behind another holder: after each lease period, check it was taken; if
        the chat is free and it is still queued (the holder died, before or while handling it), take
        the chat and drain it. Watching stops once it is done."""
        for _ in range(WATCH_ROUNDS):
            await asyncio.sleep(turns.lease_ms / 1000)
            try:
                outcome = await turns.enqueue(update_id, lane, token, body)
            except UNREACHABLE as exc:
                log.warning("telegram update %s: Redis unreachable checking its queue (%s)", update_id, exc)
                continue
            if outcome == HOLD:
                current = asyncio.current_task()
                if current is not None:
                    self._waiting.discard(current)  # holding now: shutdown lets it finish
                await self._hold(turns, lane, user_id, token)
                return
            if outcome not in (BUSY, CLAIMED):  # done (CLAIMED: its holder may yet die handling it)
                return
        log.warning(
            "telegram update %s: still queued behind chat %s's holder; no longer watched", update_id, lane
        )

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

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

    async def _expired(self, lane: str, expired: list[Queued]) -> None:
        """Queued updates dropped as too old at their turn: each counted, and their user told once (in
        the language of the last) to send it again."""
        kind = {"u": "user", "c": "chat"}.get(lane[:1], "other")
        for _ in expired:
            telemetry.count("telegram.update_expired", chat=kind)
        last = expired[-1]
        try:
            update = Update.de_json(json.loads(last.body), self._bot)
        except Exception:
            log.warning("telegram update %s (expired) is not an Update: its user is not told", last.update_id)
            return
        await self._ask_again(update, last.update_id)

    async def _given_up(self, update: object, exc: BaseException) -> None:
        """The update_id check never got through: the update is not handled (it may be a redelivery of
        one already acted on), counted, and its user asked to send it again."""
        update_id = getattr(update, "update_id", None)
        log.error(
            "telegram update %s not handled: Redis unreachable at its update_id check, %d retries (%s: %s)",
            update_id, len(self.retry_delays), type(exc).__name__, exc,
        )  # fmt: skip
        telemetry.count("telegram.update_unchecked", reason=type(exc).__name__)
        await self._ask_again(update, update_id)

    async def _ask_again(self, update: object, update_id: object) -> None:
        """Ask the update's user, in their Telegram language, to send it again (it was not handled)."""
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


class _Renewal:
    """A holder's lease renewed every third of its length while it works (a timer, no task, until the
    first renewal is due: most holders are done long before)."""

    def __init__(self, order: PerChatOrder, turns: SharedTurns, lane: str, token: str) -> None:
        self.order, self.turns, self.lane, self.token = order, turns, lane, token
        self.period = turns.lease_ms / 3000
        self.loop = asyncio.get_running_loop()
        self.handle = self.loop.call_later(self.period, self._due)
        self.task: asyncio.Task[None] | None = None
        self.stopped = False

    def _due(self) -> None:
        self.task = self.order._spawn(self._renew())

    async def _renew(self) -> None:
        try:
            held = await self.turns.renew(self.lane, self.token)
        except UNREACHABLE as exc:
            log.warning("telegram chat %s: lease not renewed, Redis unreachable (%s)", self.lane, exc)
            held = True  # try again at the next period
        if not held:
            log.warning("telegram chat %s: lease renewal refused, the lease was lost", self.lane)
        if held and not self.stopped:
            self.handle = self.loop.call_later(self.period, self._due)

    def stop(self) -> None:
        self.stopped = True
        self.handle.cancel()
        if self.task is not None:
            self.task.cancel()
