"""Where a Telegram conversation's state lives between updates: Redis in production (so a restart
or a second API process continues the conversation), process memory on the embedded default.

The state is a small JSON object per Telegram user (the step and what it has gathered: an asset, an
amount, a quote id). It never holds a PIN or a code. Each write renews the expiry, so an abandoned
conversation disappears after `TTL_SECONDS`. The same store remembers which update_ids were
already acted on (a day), so a redelivered update is not acted on twice.

In Redis it also gives each chat's updates their turns across processes (`SharedTurns`): a chat's
lease (one holder at a time, any process), the chat's queue of updates that came while it was held,
and each update_id's mark: claimed by a holder's token ("c:<token>", while it is handled) or done
("d"). A holder that took an update (the script ran) and then lost Redis's answer asks again with the
same token and gets the same answer, so such an update is handled once; an update claimed by a
holder whose lease is gone (the process died while handling it) may be taken again. A chat whose
queue is not empty and whose lease nobody holds may be adopted (`SharedTurns.adopt`, found by a bounded
SCAN of the queues, `queued_lanes`) and drained by a process starting up.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

TTL_SECONDS = 30 * 60
KEY_PREFIX = "kibeti:tg:chat:"
# Telegram redelivers an update it got no 2xx for (a timeout, a restart) for up to a day
UPDATE_SEEN_SECONDS = 24 * 60 * 60
SEEN_PREFIX = "kibeti:tg:update:"
MAX_SEEN_IN_MEMORY = 100_000
# A chat's lease: held while one of its updates is handled, renewed by the holder (a third of it), so a
# holder that died frees the chat after this long
LEASE_MS = 10_000
LEASE_PREFIX = "kibeti:tg:lease:"
QUEUE_PREFIX = "kibeti:tg:queue:"  # a chat's queued update_ids (a sorted set, by update_id)
BODIES_PREFIX = "kibeti:tg:bodies:"  # their JSON (a hash by update_id)
ARRIVALS_PREFIX = "kibeti:tg:arrivals:"  # the chat's queue counter (its arrival order)
QUEUE_SECONDS = UPDATE_SEEN_SECONDS  # a queue nobody drained (every holder died) is gone after a day
# A queued update older than this when its turn comes is dropped (marked done, logged), not handled: a
# Telegram user who waited that long has moved on, and replaying it before their next message would
# act on a stale request. Less than the watchers' time (`ordering.WATCH_ROUNDS` lease periods).
QUEUED_MAX_MS = 3 * 60 * 1000
# What `SharedTurns.begin` and `enqueue` answer
REDELIVERY = 0  # acted on already (done): drop it
GO = 1  # the update's turn: the caller holds the chat's lease and has claimed the update
BUSY = 2  # (begin) the chat is held or has updates queued: enqueue it; (enqueue) queued behind the holder
HOLD = 3  # (enqueue) queued, and the chat was free: the caller holds its lease now and drains the queue
CLAIMED = 4  # being acted on by the chat's live holder (another token): not this caller's; a watcher of
# its queued update keeps watching (the holder may die handling it)


class ChatStateStore(Protocol):
    async def load(self, user_id: int) -> dict[str, Any] | None: ...

    async def save(self, user_id: int, state: dict[str, Any]) -> None: ...

    async def clear(self, user_id: int) -> None: ...

    async def first_delivery(self, update_id: int) -> bool:
        """True the first time an update_id is seen (within a day), False for a redelivery."""
        ...

    async def first_delivery_and_load(
        self, update_id: int, user_id: int
    ) -> tuple[bool, dict[str, Any] | None]:
        """`first_delivery` and, the first time, `load(user_id)` (one round trip in Redis)."""
        ...


@dataclass(frozen=True)
class Queued:
    """An update taken from a chat's queue by its holder: its JSON, and the user's state read with it."""

    update_id: str  # as it came (Telegram's is an integer; a malformed update's may be anything)
    body: str
    state: dict[str, Any] | None


class LeaseLost(Exception):
    """The chat's lease is another holder's now (this one's expired): stop taking its updates."""


@runtime_checkable
class SharedTurns(Protocol):
    """A chat's updates one at a time across processes, those queued in the order they reached Redis.
    `lane` names the chat ("u<user id>", "c<chat id>", "o"); `user_id` is whose state is read (None:
    none). Each call may be repeated with the same arguments after a lost answer (the same result)."""

    lease_ms: int  # a holder renews its lease every third of this

    async def begin(
        self, update_id: int, lane: str, user_id: int | None, token: str
    ) -> tuple[int, dict[str, Any] | None]:
        """REDELIVERY, CLAIMED, BUSY, or GO with the user's state (`token` now holds the chat)."""
        ...

    async def enqueue(self, update_id: int, lane: str, token: str, body: str) -> int:
        """REDELIVERY, CLAIMED, BUSY (queued), or HOLD (queued; `token` now holds the chat: drain it)."""
        ...

    async def next_turn(
        self,
        lane: str,
        user_id: int | None,
        token: str,
        done: object,
        release: bool = False,
        expired: list[Queued] | None = None,
    ) -> Queued | None:
        """Mark `done` handled, then claim the chat's next queued update (None: the queue is empty, or
        `release`, and the chat released). Queued updates older than `QUEUED_MAX_MS` are dropped on
        the way (marked done, logged, and appended to `expired`, state None, for the caller to tell
        their user). Raises LeaseLost when another holder has the chat."""
        ...

    async def renew(self, lane: str, token: str) -> bool:
        """Extend `token`'s lease (False: it is not the holder)."""
        ...

    async def queued_lanes(self, cursor: int) -> tuple[int, list[str]]:
        """One bounded step (SCAN) over the chats that have a queue: the next cursor (0: done), lanes."""
        ...

    async def adopt(self, lane: str, token: str) -> bool:
        """Take the lease of a chat whose queue is not empty and which nobody holds (its holder and
        watchers are gone): True, `token` holds it now and drains it (`next_turn` with nothing done)."""
        ...


class MemoryChatStates:
    """One process's conversations (the embedded default: one process, no Redis)."""

    def __init__(self, ttl: int = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._states: dict[int, tuple[float, str]] = {}
        self._seen: dict[int, float] = {}

    async def load(self, user_id: int) -> dict[str, Any] | None:
        entry = self._states.get(user_id)
        if entry is None:
            return None
        expires, raw = entry
        if time.monotonic() > expires:
            self._states.pop(user_id, None)
            return None
        loaded: dict[str, Any] = json.loads(raw)
        return loaded

    async def save(self, user_id: int, state: dict[str, Any]) -> None:
        self._states[user_id] = (time.monotonic() + self.ttl, json.dumps(state))

    async def clear(self, user_id: int) -> None:
        self._states.pop(user_id, None)

    async def first_delivery(self, update_id: int) -> bool:
        now = time.monotonic()
        if update_id in self._seen and self._seen[update_id] > now:
            return False
        if len(self._seen) >= MAX_SEEN_IN_MEMORY:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            if len(self._seen) >= MAX_SEEN_IN_MEMORY:  # all live: forget the oldest half
                self._seen = dict(list(self._seen.items())[MAX_SEEN_IN_MEMORY // 2 :])
        self._seen[update_id] = now + UPDATE_SEEN_SECONDS
        return True

    async def first_delivery_and_load(
        self, update_id: int, user_id: int
    ) -> tuple[bool, dict[str, Any] | None]:
        if not await self.first_delivery(update_id):
            return False, None
        return True, await self.load(user_id)


# Mark the update_id seen (SET NX EX) and, when it was not, read the user's state: one round trip.
# Returns {1, state} / {1} (no state) / {0}.
_FIRST_AND_LOAD = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {0} end
return {1, redis.call('GET', KEYS[2])}
"""


# The redelivery check all three scripts share: an update_id done is not taken ({0}), nor one claimed
# by the chat's live holder (another token: {4}); one claimed by a token that no longer holds the lease
# (its process died handling it) may be. `holder` is false when the chat is free.
_SEEN_CHECK = """
local seen = redis.call('GET', KEYS[1])
local holder = redis.call('GET', KEYS[3])
if seen and seen ~= 'c:' .. ARGV[1] then
  if string.sub(seen, 1, 2) ~= 'c:' then return {0} end
  if string.sub(seen, 3) == holder then return {4} end
end
"""
# An update's turn, the fast path (one round trip when the chat is free): take the chat's lease, claim
# the update_id and read the user's state. KEYS: the update's seen key, the user's state, the chat's
# lease, the chat's queue; ARGV: token, lease ms, seen seconds. {0} redelivery, {2} busy, {1, state}.
_BEGIN = (
    _SEEN_CHECK
    + """
if holder ~= ARGV[1] and (holder or redis.call('EXISTS', KEYS[4]) == 1) then return {2} end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[1], 'c:' .. ARGV[1], 'EX', ARGV[3])
return {1, redis.call('GET', KEYS[2])}
"""
)
# Queue the update behind the chat's holder (its update_id in the queue, scored by the chat's arrival
# counter: once, a repeat keeps its place; in the chat's bodies "<arrival ms, Redis's clock> <JSON>"),
# or take the lease when the chat is free. KEYS: the update's seen key, the chat's bodies, lease, queue,
# counter; ARGV: token, lease ms, seen seconds, update_id, JSON, queue seconds.
# {0} redelivery, {4} claimed by the live holder, {2} queued behind another holder, {3} queued and the
# lease taken.
_ENQUEUE = (
    _SEEN_CHECK
    + """
local now = redis.call('TIME')
local at = now[1] * 1000 + math.floor(now[2] / 1000)
if redis.call('HSETNX', KEYS[2], ARGV[4], string.format('%d', at) .. ' ' .. ARGV[5]) == 1 then
  redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[5]), ARGV[4])
  redis.call('EXPIRE', KEYS[5], ARGV[6])
end
redis.call('EXPIRE', KEYS[4], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
if holder and holder ~= ARGV[1] then return {2} end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
return {3}
"""
)
# The holder's next turn: mark the update it handled done (and out of the queue), then claim the
# queue's first update not done (skipped ones are redeliveries, dropped; one queued longer ago than
# the max age is marked done and dropped, its id answered), renewing the lease; or, the queue empty or
# the holder stopping, release the chat. KEYS: the chat's lease, queue, bodies, the user's state; ARGV:
# token, lease ms, seen seconds, seen key prefix, '1' when an update was handled, its update_id, max
# age ms, '1' to release. {-1} another holder has the chat, {0, dropped...} released,
# {1, update_id, JSON, state, dropped...}; each dropped one is its update_id then its JSON.
_NEXT = """
local holder = redis.call('GET', KEYS[1])
if ARGV[5] == '1' then
  local key = ARGV[4] .. ARGV[6]
  if redis.call('GET', key) == 'c:' .. ARGV[1] then redis.call('SET', key, 'd', 'EX', ARGV[3]) end
  if redis.call('ZREM', KEYS[2], ARGV[6]) == 1 then redis.call('HDEL', KEYS[3], ARGV[6]) end
end
if holder and holder ~= ARGV[1] then return {-1} end
local now = redis.call('TIME')
local oldest = now[1] * 1000 + math.floor(now[2] / 1000) - tonumber(ARGV[7])
local dropped = {}
while true do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #head == 0 or ARGV[8] == '1' then
    if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
    local answer = {0}
    for _, d in ipairs(dropped) do answer[#answer + 1] = d end
    return answer
  end
  local id = head[1]
  local key = ARGV[4] .. id
  local seen = redis.call('GET', key)
  local body = redis.call('HGET', KEYS[3], id)
  if body and (not seen or string.sub(seen, 1, 2) == 'c:') then
    local at, json = string.match(body, '^(%d+) (.*)$')
    if at and tonumber(at) < oldest then
      redis.call('SET', key, 'd', 'EX', ARGV[3])
      dropped[#dropped + 1] = id
      dropped[#dropped + 1] = json
    else
      redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
      redis.call('SET', key, 'c:' .. ARGV[1], 'EX', ARGV[3])
      local answer = {1, id, json or body, redis.call('GET', KEYS[4])}
      for _, d in ipairs(dropped) do answer[#answer + 1] = d end
      return answer
    end
  end
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
"""
# KEYS: the chat's lease; ARGV: token, lease ms. 1 renewed, 0 not the holder.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# A chat whose queue holds updates and whose lease nobody holds (the holder released or died, and the
# processes watching its queued updates shut down): take the lease to drain it. KEYS: the chat's lease,
# queue; ARGV: token, lease ms. 1 taken, 0 not (empty, or held).
_ADOPT = """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
return 1
"""
# Chats' queues looked at per SCAN call of the start-up recovery (a bounded step; Redis's COUNT hint)
SCAN_COUNT = 100
NO_STATE_KEY = f"{KEY_PREFIX}none"  # a lane with no user: the scripts read this (never written) key


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _parsed(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        loaded = json.loads(raw)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


class RedisChatStates:
    """Conversations in Redis (`redis.asyncio.Redis`), shared by every API process."""

    def __init__(
        self, redis: Any, ttl: int = TTL_SECONDS, lease_ms: int = LEASE_MS, queued_max_ms: int = QUEUED_MAX_MS
    ) -> None:
        self.redis = redis
        self.ttl = ttl
        self.lease_ms = lease_ms
        self.queued_max_ms = queued_max_ms
        self._first_and_load = redis.register_script(_FIRST_AND_LOAD)
        self._begin = redis.register_script(_BEGIN)
        self._enqueue = redis.register_script(_ENQUEUE)
        self._next = redis.register_script(_NEXT)
        self._renew = redis.register_script(_RENEW)
        self._adopt = redis.register_script(_ADOPT)

    async def load(self, user_id: int) -> dict[str, Any] | None:
        return _parsed(await self.redis.get(f"{KEY_PREFIX}{user_id}"))

    async def save(self, user_id: int, state: dict[str, Any]) -> None:
        await self.redis.set(f"{KEY_PREFIX}{user_id}", json.dumps(state), ex=self.ttl)

    async def clear(self, user_id: int) -> None:
        await self.redis.delete(f"{KEY_PREFIX}{user_id}")

    async def first_delivery(self, update_id: int) -> bool:
        return bool(await self.redis.set(f"{SEEN_PREFIX}{update_id}", b"1", nx=True, ex=UPDATE_SEEN_SECONDS))

    async def first_delivery_and_load(
        self, update_id: int, user_id: int
    ) -> tuple[bool, dict[str, Any] | None]:
        keys = [f"{SEEN_PREFIX}{update_id}", f"{KEY_PREFIX}{user_id}"]
        answer = await self._first_and_load(keys=keys, args=[UPDATE_SEEN_SECONDS])
        if not answer or not int(answer[0]):
            return False, None
        return True, _parsed(answer[1]) if len(answer) > 1 else None

    def _keys(self, update_id: int, lane: str, user_id: int | None) -> list[str]:
        state = NO_STATE_KEY if user_id is None else f"{KEY_PREFIX}{user_id}"
        return [f"{SEEN_PREFIX}{update_id}", state, f"{LEASE_PREFIX}{lane}", f"{QUEUE_PREFIX}{lane}"]

    def _bodies(self, lane: str) -> str:
        return f"{BODIES_PREFIX}{lane}"

    async def begin(
        self, update_id: int, lane: str, user_id: int | None, token: str
    ) -> tuple[int, dict[str, Any] | None]:
        keys = self._keys(update_id, lane, user_id)
        answer = await self._begin(keys=keys, args=[token, self.lease_ms, UPDATE_SEEN_SECONDS])
        outcome = int(answer[0])
        return outcome, _parsed(answer[1]) if outcome == GO and len(answer) > 1 else None

    async def enqueue(self, update_id: int, lane: str, token: str, body: str) -> int:
        keys = self._keys(update_id, lane, None)
        keys[1] = self._bodies(lane)
        keys.append(f"{ARRIVALS_PREFIX}{lane}")
        args = [token, self.lease_ms, UPDATE_SEEN_SECONDS, str(update_id), body, QUEUE_SECONDS]
        return int((await self._enqueue(keys=keys, args=args))[0])

    async def next_turn(
        self,
        lane: str,
        user_id: int | None,
        token: str,
        done: object,
        release: bool = False,
        expired: list[Queued] | None = None,
    ) -> Queued | None:
        state = NO_STATE_KEY if user_id is None else f"{KEY_PREFIX}{user_id}"
        keys = [f"{LEASE_PREFIX}{lane}", f"{QUEUE_PREFIX}{lane}", self._bodies(lane), state]
        handled = ["0", ""] if done is None else ["1", str(done)]
        args = [
            token, self.lease_ms, UPDATE_SEEN_SECONDS, SEEN_PREFIX, *handled,
            self.queued_max_ms, "1" if release else "0",
        ]  # fmt: skip
        answer = await self._next(keys=keys, args=args)
        outcome = int(answer[0])
        if outcome < 0:
            raise LeaseLost(lane)
        first_dropped = 1 if outcome == 0 else 4
        dropped = answer[first_dropped:]
        for dropped_id, dropped_body in zip(dropped[0::2], dropped[1::2], strict=False):
            log.warning(
                "telegram chat %s: queued update %s dropped, not handled: queued over %ss ago",
                lane, _text(dropped_id), self.queued_max_ms // 1000,
            )  # fmt: skip
            if expired is not None:
                expired.append(Queued(_text(dropped_id), _text(dropped_body), None))
        if outcome == 0:
            return None
        update_id, body = (_text(x) for x in answer[1:3])
        return Queued(update_id, body, _parsed(answer[3]) if len(answer) > 3 else None)

    async def renew(self, lane: str, token: str) -> bool:
        return bool(await self._renew(keys=[f"{LEASE_PREFIX}{lane}"], args=[token, self.lease_ms]))

    async def queued_lanes(self, cursor: int) -> tuple[int, list[str]]:
        cursor, keys = await self.redis.scan(cursor, match=f"{QUEUE_PREFIX}*", count=SCAN_COUNT)
        return int(cursor), [_text(key)[len(QUEUE_PREFIX) :] for key in keys]

    async def adopt(self, lane: str, token: str) -> bool:
        keys = [f"{LEASE_PREFIX}{lane}", f"{QUEUE_PREFIX}{lane}"]
        return bool(await self._adopt(keys=keys, args=[token, self.lease_ms]))


def build_chat_states(redis: Any | None) -> ChatStateStore:
    return RedisChatStates(redis) if redis is not None else MemoryChatStates()
