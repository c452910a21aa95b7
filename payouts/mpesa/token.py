"""One OAuth token per app, shared by every worker.

Daraja invalidates the previous token whenever a new one is generated, so refresh must be
single-flight across processes: with Redis, a SET NX lock elects one fetcher and the others wait for
the shared value; without Redis (embedded), an asyncio lock does the same inside the process.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

Fetch = Callable[[], Awaitable[tuple[str, int]]]  # -> (token, expires_in seconds)

REFRESH_MARGIN_S = 600  # refresh at ~50 minutes of a 60 minute token
LOCK_TTL_MS = 15_000
WAIT_STEP_S = 0.05

# KEYS[1] = key; ARGV[1] = expected value. Delete only if it still holds the expected value.
_CAS_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _ttl(expires_in: int) -> int:
    return (
        max(1, expires_in - REFRESH_MARGIN_S)
        if expires_in > REFRESH_MARGIN_S * 2
        else max(1, expires_in // 2)
    )


class MemoryTokenCache:
    """In-process cache (embedded default, one process)."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._token = ""
        self._expires = 0.0
        self._locks: dict[int, asyncio.Lock] = {}
        self.fetches = 0

    def _lock(self) -> asyncio.Lock:
        loop_id = id(asyncio.get_running_loop())
        return self._locks.setdefault(loop_id, asyncio.Lock())

    async def get(self) -> str:
        if self._token and time.monotonic() < self._expires:
            return self._token
        async with self._lock():
            if self._token and time.monotonic() < self._expires:
                return self._token
            token, expires_in = await self._fetch()
            self.fetches += 1
            self._token, self._expires = token, time.monotonic() + _ttl(expires_in)
            return token

    def rebind(self, fetch: Fetch) -> None:
        self._fetch = fetch

    async def invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = ""


class RedisTokenCache:
    """Token in Redis with a TTL; a lock key makes the refresh single-flight across processes."""

    def __init__(self, redis: Any, fetch: Fetch, *, namespace: str) -> None:
        self._redis = redis
        self._fetch = fetch
        digest = hashlib.sha256(namespace.encode()).hexdigest()[:16]
        self.key = f"mpesa:oauth:{digest}"
        self.lock_key = f"{self.key}:lock"

    async def _cached(self) -> str:
        raw = await self._redis.get(self.key)
        if raw is None:
            return ""
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def get(self) -> str:
        deadline = time.monotonic() + LOCK_TTL_MS / 1000 * 2
        while True:
            token = await self._cached()
            if token:
                return token
            owner = secrets.token_hex(8)
            if await self._redis.set(self.lock_key, owner, nx=True, px=LOCK_TTL_MS):
                try:
                    token = await self._cached()  # someone finished just before we locked
                    if token:
                        return token
                    token, expires_in = await self._fetch()
                    await self._redis.set(self.key, token, ex=_ttl(expires_in))
                    return token
                finally:
                    await self._redis.eval(_CAS_DELETE, 1, self.lock_key, owner)
            if time.monotonic() > deadline:
                raise TimeoutError("timed out waiting for the shared M-Pesa token refresh")
            await asyncio.sleep(WAIT_STEP_S)

    async def invalidate(self, token: str) -> None:
        """Drop the shared token only if it is still the one that was refused."""
        await self._redis.eval(_CAS_DELETE, 1, self.key, token)
