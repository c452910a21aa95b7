"""Flood control in the bot's sending path (a PTB rate limiter, as AIORateLimiter would be, plus
the per-private-chat pacing AIORateLimiter lacks).

Telegram allows about 30 messages a second overall and about one a second per chat, with short
bursts tolerated (PROTOCOLS.md 3.5). Every request waits for the overall bucket and, when it names a
chat, for that chat's bucket. A 429 (RetryAfter) pauses every request for `retry_after` seconds and
then the request is tried again, up to `max_retries` times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

MAX_CHATS_TRACKED = 10_000
# What counts against the 30 a second and a chat's one a second: new or edited messages. Deleting a PIN
# message, answering a button and the like never wait behind them.
PACED = ("send", "edit", "copy", "forward")
CHAT_INTERVAL = 1.0  # seconds per message in one chat, after a burst of CHAT_BURST
CHAT_BURST = 3
PER_SECOND = 30  # messages a second overall


def retry_seconds(exc: RetryAfter) -> float:
    """What the 429 asked to wait (a timedelta: core.config opts PTB in with PTB_TIMEDELTA)."""
    period = exc.retry_after
    if isinstance(period, timedelta):
        return max(0.0, period.total_seconds())
    return max(0.0, float(period))


class _Bucket:
    """A token bucket: `burst` tokens, one more every `interval` seconds."""

    def __init__(self, interval: float, burst: int) -> None:
        self.interval, self.burst = interval, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) / self.interval)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) * self.interval)


# A token bucket in Redis, shared by every process that sends for the bot (RQ workers each build a bot
# per notice job): refilled by elapsed Redis TIME, so no process's clock matters. Returns the seconds
# to wait before trying again; 0 when a token was taken.
_SHARED_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = math.min(burst, (tonumber(held[1]) or burst) + (t - (tonumber(held[2]) or t)) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(t))
redis.call('EXPIRE', KEYS[1], 60)
return tostring(wait)
"""
SHARED_KEY = "kibeti:tg:pace:overall"


class SharedBucket:
    """The overall 30 messages/s of one bot, kept in Redis (`redis.asyncio.Redis`) for all processes."""

    def __init__(
        self, redis: Any, per_second: float, *, burst: int | None = None, key: str = SHARED_KEY
    ) -> None:
        self.redis, self.per_second, self.key = redis, per_second, key
        self.burst = burst if burst is not None else max(1, int(per_second))

    async def try_take(self) -> float:
        """Take a token if one is there (0.0), else how long until one is."""
        return float(await self.redis.eval(_SHARED_TAKE, 1, self.key, self.per_second, self.burst))

    async def take(self) -> None:
        for _ in range(10_000):  # bounded: at worst a few minutes behind other processes' bursts
            wait = await self.try_take()
            if wait <= 0:
                return
            await asyncio.sleep(wait)
        raise TimeoutError("no Telegram sending slot came free")


class ChatPacing(BaseRateLimiter[int]):
    def __init__(
        self,
        *,
        per_second: int | None = None,
        chat_interval: float | None = None,
        chat_burst: int = CHAT_BURST,
        max_retries: int = 3,
        shared_redis: Any = None,
    ) -> None:
        """`shared_redis`: keep the overall limit in Redis (processes that each send a little, as RQ
        workers do); without it the limit is this process's own."""
        chat_interval = CHAT_INTERVAL if chat_interval is None else chat_interval
        per_second = PER_SECOND if per_second is None else per_second
        self.per_second, self.chat_interval, self.chat_burst = per_second, chat_interval, chat_burst
        self.max_retries = max_retries
        self._overall: _Bucket | SharedBucket = (
            SharedBucket(shared_redis, per_second)
            if shared_redis is not None
            else _Bucket(1.0 / per_second, per_second)
        )
        self._chats: dict[str, _Bucket] = {}
        self._paused_until = 0.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _chat(self, chat_id: str) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) >= MAX_CHATS_TRACKED:  # forget idle chats (their buckets are full)
                self._chats.clear()
            bucket = self._chats[chat_id] = _Bucket(self.chat_interval, self.chat_burst)
        return bucket

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id = data.get("chat_id")
        for attempt in range(self.max_retries + 1):
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            if endpoint.startswith(PACED):  # messages; answering a tap or deleting one is not
                await self._overall.take()
                if chat_id is not None:
                    await self._chat(str(chat_id)).take()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= self.max_retries:
                    raise
                self._paused_until = max(self._paused_until, time.monotonic() + retry_seconds(exc))
        raise AssertionError("unreachable")  # pragma: no cover
