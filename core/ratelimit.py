"""Rate limiting: sliding (moving) or fixed windows, on Redis (one script, one round trip a check) so
every process shares them, with an in-memory limiter for the embedded default (no Redis). Every check
returns whether it is allowed and, if not, `retry_after`. A limit says what happens when Redis is down
(`when_redis_down`): its error is raised, or this process's own limiter decides.

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
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import telemetry
from core.errors import KibetiError
from core.logging import get_logger
from core.runtime import Runtime

Strategy = Literal["fixed", "sliding"]
WhenRedisDown = Literal["raise", "local"]
KEY_PREFIX = "kibeti:rl:"
_MAX_BUCKETS = 50_000
_MAX_WINDOW = 86_400
log = get_logger("kibeti.ratelimit")


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window` seconds."""

    name: str
    limit: int
    window: int
    strategy: Strategy = "sliding"
    # Redis unreachable or slow: "raise" its error, or "local": this process's own limiter decides
    # (per-process limits, not an outage; RedisRateLimiter)
    when_redis_down: WhenRedisDown = "raise"

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window < 1:
            raise ValueError("a rate limit needs a positive limit and window")


class RateLimited(KibetiError):
    """Too many attempts for this phone number (every channel together). HTTP answers 429 with
    Retry-After (webapp.middleware); USSD and Telegram show the text with `values["minutes"]`."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str = "too many attempts", *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.values = {"minutes": max(1, math.ceil(retry_after / 60))}


class RateLimiterUnavailable(KibetiError):
    """A limit that fails closed could not be checked: Redis refused, failed or did not answer in time
    (the Redis error is its __cause__). Every channel says the service is busy, try again shortly
    (`error.service_unavailable`); HTTP answers 503 with Retry-After, never a 500."""

    code = "service_unavailable"
    http_status = 503

    def __init__(self, limit: str) -> None:
        super().__init__(f"the {limit} rate limit cannot be checked (Redis unavailable)")
        self.limit = limit
        self.missing = f"rate limiter ({limit})"  # what USSD's service-unavailable log line names
        self.retry_after = RETRY_AFTER_UNAVAILABLE_SECONDS


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
# The web layer's per-IP limit and the merchant API's per-key one are overload protection: with Redis
# down they hold per process rather than turn every page, checkout and invoice into an error.
PUBLIC_PER_IP = Limit("public_ip", 120, 60, when_redis_down="local")
LOGIN_PER_IP = Limit("login_ip", 10, 60)
LOGIN_PER_ACCOUNT = Limit("login_account", 20, 3600)
PIN_PER_ACCOUNT = Limit("pin_account", 10, 3600)  # wrong PINs per phone, every channel together
OTP_SEND_PER_PHONE = Limit("otp_send_phone", 5, 3600)
OTP_VERIFY_PER_PHONE = Limit("otp_verify_phone", 10, 900)  # wrong codes per phone
REGISTER_PER_PHONE = Limit("register_phone", 5, 86_400)  # registration attempts per phone
API_KEY_REQUESTS = Limit("api_key", 600, 60, when_redis_down="local")


# One round trip a check: the bucket is read, trimmed and (when counting and allowed) written in one
# script, which answers (allowed, remaining, milliseconds to wait). Sliding: a sorted set of the hits'
# times (ms) in the window, scored by time; fixed: a counter that expires a window after its first hit.
_CHECK = """
local key, strategy = KEYS[1], ARGV[1]
local limit, window, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local count = ARGV[6] == '1'
if strategy == 'f' then
  local used = tonumber(redis.call('GET', key) or '0')
  if used < limit then
    if count then
      used = redis.call('INCR', key)
      if used == 1 then redis.call('PEXPIRE', key, window) end
    end
    return {1, limit - used, 0}
  end
  return {0, 0, redis.call('PTTL', key)}
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
if used < limit then
  if count then
    redis.call('ZADD', key, now, ARGV[5])
    redis.call('PEXPIRE', key, window)
    used = used + 1
  end
  return {1, limit - used, 0}
end
local freed = redis.call('ZRANGE', key, used - limit, used - limit, 'WITHSCORES')
return {0, 0, tonumber(freed[2]) + window - now}
"""
# A limit whose `when_redis_down` is "local" gives Redis this long to answer before the process's own
# limiter decides; after a failure Redis is left alone (local limits) this long before it is tried again,
# so an outage costs one wait per process every few seconds, not one per request.
REDIS_ANSWER_SECONDS = 0.25
REDIS_RETRY_AFTER_DOWN_SECONDS = 5.0
# A limit that raises (PIN, OTP, login, registration, checkout STK) gives Redis this long, connecting and
# redis-py's own retries included, then raises RateLimiterUnavailable (from redis' error): a hung Redis
# (accepts, never answers) fails the attempt in about a second, as a refused one does, well inside a USSD
# hop's ~15 s. The customer is asked to try again in a minute (HTTP: Retry-After).
REDIS_RAISE_AFTER_SECONDS = 1.0
RETRY_AFTER_UNAVAILABLE_SECONDS = 60
_REDIS_DOWN = (RedisError, OSError, TimeoutError)


class RedisRateLimiter:
    """Shared by every process: each check is one script on the runtime's Redis (EVALSHA; redis-py
    loads it again on NOSCRIPT), a sorted set of hit times for "sliding" limits (a moving window, as
    the `limits` library's) and an expiring counter for "fixed" ones (the window starts at its first hit).

    When Redis cannot be reached or does not answer in time, a limit marked `when_redis_down="local"`
    is checked by this process's own MemoryRateLimiter instead (the same limit, per process: a caller
    gets at most N per window from each process rather than an error), the outage logged and counted
    (`ratelimit.redis_down`); other limits raise RateLimiterUnavailable (a KibetiError: every channel
    answers "service unavailable, try again" in the user's language, HTTP 503) from the Redis error within
    REDIS_RAISE_AFTER_SECONDS (a silent Redis: from redis' TimeoutError), logged once (not counted in
    `ratelimit.redis_down`, which counts the local fallback's decisions)."""

    def __init__(self, redis: Any, *, now: Callable[[], float] | None = None) -> None:
        self._now = now or time.time
        self._script = redis.register_script(_CHECK)
        self._local = MemoryRateLimiter(now=self._now)
        self._down_until = 0.0  # time.monotonic(): Redis is not tried for local-fallback limits before

    async def hit(self, limit: Limit, key: str) -> Decision:
        return await self._check(limit, key, count=True)

    async def peek(self, limit: Limit, key: str) -> Decision:
        return await self._check(limit, key, count=False)

    async def _check(self, limit: Limit, key: str, *, count: bool) -> Decision:
        if limit.when_redis_down == "raise":
            return await self._ask_redis_or_raise(limit, key, count=count)
        if time.monotonic() < self._down_until:
            return await self._local.decide(limit, key, count=count)
        try:
            async with asyncio.timeout(REDIS_ANSWER_SECONDS):
                return await self._ask_redis(limit, key, count=count)
        except _REDIS_DOWN as exc:
            self._down_until = time.monotonic() + REDIS_RETRY_AFTER_DOWN_SECONDS
            log.warning("rate_limiter_redis_down", limit=limit.name, error=type(exc).__name__)
            telemetry.count("ratelimit.redis_down", limit=limit.name)
            return await self._local.decide(limit, key, count=count)

    async def _ask_redis_or_raise(self, limit: Limit, key: str, *, count: bool) -> Decision:
        """Redis' answer, or RateLimiterUnavailable within REDIS_RAISE_AFTER_SECONDS (fail closed, never
        hang), chained from redis' error (a silent Redis: redis' TimeoutError)."""
        try:
            async with asyncio.timeout(REDIS_RAISE_AFTER_SECONDS):
                return await self._ask_redis(limit, key, count=count)
        except _REDIS_DOWN as exc:
            log.warning("rate_limiter_redis_down_failed_closed", limit=limit.name, error=type(exc).__name__)
            cause: BaseException = exc
            if not isinstance(exc, RedisError) and isinstance(exc, TimeoutError):
                cause = RedisTimeoutError(f"Redis did not answer the {limit.name} rate limit in time")
                cause.__cause__ = exc
            raise RateLimiterUnavailable(limit.name) from cause

    async def _ask_redis(self, limit: Limit, key: str, *, count: bool) -> Decision:
        now_ms = int(self._now() * 1000)
        allowed, remaining, wait_ms = await self._script(
            keys=[_bucket(limit, key)],
            args=[
                "f" if limit.strategy == "fixed" else "s",
                limit.limit,
                limit.window * 1000,
                now_ms,
                f"{now_ms}:{secrets.token_hex(6)}",  # the sorted set's member: unique per hit
                1 if count else 0,
            ],
        )
        if allowed:
            return Decision(True, int(remaining), 0)
        if wait_ms < 0:  # no expiry on the counter (it cannot happen): a whole window
            wait_ms = limit.window * 1000
        return Decision(False, 0, max(1, math.ceil(int(wait_ms) / 1000)))


def _bucket(limit: Limit, key: str) -> str:
    return f"{KEY_PREFIX}{limit.strategy[0]}:{limit.name}:{key}"


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

    async def decide(self, limit: Limit, key: str, *, count: bool) -> Decision:
        async with self._lock:
            return self._decide(limit, key, count=count)

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
