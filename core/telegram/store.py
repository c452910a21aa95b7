"""Where a Telegram conversation's state lives between updates: Redis in production (so a restart
or a second API process continues the conversation), process memory on the embedded default.

The state is a small JSON object per Telegram user (the step and what it has gathered: an asset, an
amount, a quote id). It never holds a PIN or a code. Each write renews the expiry, so an abandoned
conversation disappears after `TTL_SECONDS`. The same store remembers which update_ids were
already acted on (a day), so a redelivered update is not acted on twice.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

TTL_SECONDS = 30 * 60
KEY_PREFIX = "kibeti:tg:chat:"
# Telegram redelivers an update it got no 2xx for (a timeout, a restart) for up to a day
UPDATE_SEEN_SECONDS = 24 * 60 * 60
SEEN_PREFIX = "kibeti:tg:update:"
MAX_SEEN_IN_MEMORY = 100_000


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

    def __init__(self, redis: Any, ttl: int = TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl
        self._first_and_load = redis.register_script(_FIRST_AND_LOAD)

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


def build_chat_states(redis: Any | None) -> ChatStateStore:
    return RedisChatStates(redis) if redis is not None else MemoryChatStates()
