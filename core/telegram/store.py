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


class RedisChatStates:
    """Conversations in Redis (`redis.asyncio.Redis`), shared by every API process."""

    def __init__(self, redis: Any, ttl: int = TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl

    async def load(self, user_id: int) -> dict[str, Any] | None:
        raw = await self.redis.get(f"{KEY_PREFIX}{user_id}")
        if raw is None:
            return None
        try:
            loaded = json.loads(raw)
        except ValueError:
            return None
        return loaded if isinstance(loaded, dict) else None

    async def save(self, user_id: int, state: dict[str, Any]) -> None:
        await self.redis.set(f"{KEY_PREFIX}{user_id}", json.dumps(state), ex=self.ttl)

    async def clear(self, user_id: int) -> None:
        await self.redis.delete(f"{KEY_PREFIX}{user_id}")

    async def first_delivery(self, update_id: int) -> bool:
        return bool(await self.redis.set(f"{SEEN_PREFIX}{update_id}", b"1", nx=True, ex=UPDATE_SEEN_SECONDS))


def build_chat_states(redis: Any | None) -> ChatStateStore:
    return RedisChatStates(redis) if redis is not None else MemoryChatStates()
