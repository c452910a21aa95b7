"""Rate limiting: sliding (moving) or fixed windows, on Redis through the `limits` library (the one
slowapi is built on) so every process shares them, with an in-memory limiter for the embedded
default (no Redis). Every check returns whether it is allowed and, if not, `retry_after`.

Keys are caller-chosen, e.g. ``ip:203.0.113.9``, ``phone:+2547...`` (hash it first), ``apikey:<id>``.

Per-phone limits (PIN tries, OTP requests and checks, registrations) are keyed by the phone number,
never by a channel session: a number limited on USSD is limited on Telegram and the web too. Use
`phone_blocked` (does not count) before the attempt and `count_phone` for each attempt that counts,
with the runtime's limiter (`limiter_for`), which the caller passes down. A caller with no limiter
(a script, a fixture) passes None: only the database's own limits then apply (the PIN lockout on the
customer row, the attempts per code and codes per hour in core.identity.otp).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
)
from limits.aio.strategies import (
    RateLimiter as RateLimiterStrategy,
)

from core.errors import KibetiError
from core.runtime import Runtime

Strategy = Literal["fixed", "sliding"]
KEY_PREFIX = "kibeti:rl:"
_MAX_BUCKETS = 50_000
_MAX_WINDOW = 86_400


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window` seconds."""

    name: str
    limit: int
    window: int
    strategy: Strategy = "sliding"

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window < 1:
            raise ValueError("a rate limit needs a positive limit and window")


class RateLimited(KibetiError):
    """Too many attempts for this phone number (every channel together)."""

    code = "rate_limited"

    def __init__(self, message: str = "too many attempts", *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.values = {"minutes": max(1, math.ceil(retry_after / 60))}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # whole seconds; 0 when allowed


class RateLimiter(Protocol):
    async def hit(self, limit: Limit, key: str) -> Decision: ...

    async def peek(self, limit: Limit, key: str) -> Decision:
        """Would a hit be allowed now? Counts nothing."""
        ...


# Common policies (channels and the web layer pick from these).
PUBLIC_PER_IP = Limit("public_ip", 120, 60)
LOGIN_PER_IP = Limit("login_ip", 10, 60)
LOGIN_PER_ACCOUNT = Limit("login_account", 20, 3600)
PIN_PER_ACCOUNT = Limit("pin_account", 10, 3600)  # wrong PINs per phone, every channel together
OTP_SEND_PER_PHONE = Limit("otp_send_phone", 5, 3600)
OTP_VERIFY_PER_PHONE = Limit("otp_verify_phone", 10, 900)  # wrong codes per phone
REGISTER_PER_PHONE = Limit("register_phone", 5, 86_400)  # registration attempts per phone
API_KEY_REQUESTS = Limit("api_key", 600, 60)


class RedisRateLimiter:
    """Shared by every process: the `limits` library (the one under slowapi) on Redis, its moving
    window for "sliding" limits and its fixed window for "fixed" ones, on the runtime's Redis pool."""

    def __init__(self, redis: Any) -> None:
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            connection_pool=redis.connection_pool,
            key_prefix=KEY_PREFIX.rstrip(":"),
        )
        self._strategies: dict[str, RateLimiterStrategy] = {
            "sliding": MovingWindowRateLimiter(storage),
            "fixed": FixedWindowRateLimiter(storage),
        }

    async def hit(self, limit: Limit, key: str) -> Decision:
        strategy, item = self._strategies[limit.strategy], _item(limit)
        return await self._decision(strategy, item, limit, key, await strategy.hit(item, limit.name, key))

    async def peek(self, limit: Limit, key: str) -> Decision:
        strategy, item = self._strategies[limit.strategy], _item(limit)
        return await self._decision(strategy, item, limit, key, await strategy.test(item, limit.name, key))

    @staticmethod
    async def _decision(
        strategy: RateLimiterStrategy, item: RateLimitItem, limit: Limit, key: str, allowed: bool
    ) -> Decision:
        stats = await strategy.get_window_stats(item, limit.name, key)
        if allowed:
            return Decision(True, stats.remaining, 0)
        return Decision(False, 0, max(1, math.ceil(stats.reset_time - time.time())))


def _item(limit: Limit) -> RateLimitItem:
    return RateLimitItemPerSecond(limit.limit, limit.window)


class MemoryRateLimiter:
    """In-process limiter for the embedded default (one process, no Redis) and for tests, whose
    clock it can take. Not shared between processes: production runs RedisRateLimiter."""

    def __init__(self, *, now: Callable[[], float] | None = None) -> None:
        self._now = now or time.monotonic
        self._hits: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def peek(self, limit: Limit, key: str) -> Decision:
        async with self._lock:
            return self._decide(limit, key, count=False)

    async def hit(self, limit: Limit, key: str) -> Decision:
        async with self._lock:
            return self._decide(limit, key, count=True)

    def _decide(self, limit: Limit, key: str, *, count: bool) -> Decision:
        now = self._now()
        bucket_key = f"{limit.name}:{key}"
        if limit.strategy == "fixed":
            window_start = math.floor(now / limit.window) * limit.window
            bucket_key = f"{bucket_key}:{window_start}"
        if len(self._hits) > _MAX_BUCKETS:
            self._prune(now)
        hits = self._hits.setdefault(bucket_key, deque())
        while hits and hits[0] <= now - limit.window:
            hits.popleft()
        if len(hits) < limit.limit:
            if count:
                hits.append(now)
            return Decision(True, limit.limit - len(hits), 0)
        if limit.strategy == "fixed":
            retry = math.floor(now / limit.window) * limit.window + limit.window - now
        else:
            retry = hits[0] + limit.window - now
        return Decision(False, 0, max(1, math.ceil(retry)))

    def _prune(self, now: float) -> None:
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - _MAX_WINDOW]
        for key in stale:
            del self._hits[key]


def subject_key(kind: str, value: str) -> str:
    """A rate-limit key that does not put a phone number or API key in clear into Redis."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:24]}"


def make_rate_limiter(redis: Any | None) -> RateLimiter:
    """Redis when configured, else in-memory (the embedded default)."""
    return RedisRateLimiter(redis) if redis is not None else MemoryRateLimiter()


def limiter_for(runtime: Runtime) -> RateLimiter:
    """The runtime's one limiter (Redis when configured), shared with the web layer."""
    assert runtime.rate_limiter is not None  # Runtime.__post_init__ sets it
    return runtime.rate_limiter


async def phone_blocked(limiter: RateLimiter | None, limit: Limit, phone: str) -> int:
    """Seconds until `phone` may try again under `limit` (0: it may now). Counts nothing.
    No limiter: 0 (the database's own limits are the caller's only ones)."""
    if limiter is None:
        return 0
    decision = await limiter.peek(limit, subject_key("phone", phone))
    return 0 if decision.allowed else decision.retry_after


async def count_phone(limiter: RateLimiter | None, limit: Limit, phone: str) -> int:
    """Count one attempt for `phone`; seconds to wait when it went over (0: within the limit).
    No limiter: counts nothing and returns 0."""
    if limiter is None:
        return 0
    decision = await limiter.hit(limit, subject_key("phone", phone))
    return 0 if decision.allowed else decision.retry_after
