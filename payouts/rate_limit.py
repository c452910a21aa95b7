"""Per-shortcode send rate: a token bucket in Redis shared by every worker (one Lua script, atomic).

`limit` sends per `period_s` refill continuously; `burst` is the bucket size. In any window of T
seconds at most `burst + limit * T / period_s` sends pass. Time comes from Redis (`TIME`) so workers
on different hosts agree. Without Redis (embedded) an in-process bucket does the same.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

# KEYS[1] = bucket hash. ARGV[1] = burst (tokens), ARGV[2] = refill microseconds per token.
# Returns 0 when a token was taken, else the microseconds to wait for the next one.
BUCKET_LUA = """
local burst = tonumber(ARGV[1])
local per_token = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) / per_token)
  ts = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * per_token)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * per_token / 1000) + 1000)
return wait
"""


@dataclass(frozen=True)
class RateLimit:
    limit: int = 200
    period_s: int = 3600
    burst: int = 1

    @property
    def micros_per_token(self) -> int:
        return max(1, self.period_s * 1_000_000 // self.limit)


class RedisTokenBucket:
    def __init__(self, redis: Any, *, shortcode: str, rate: RateLimit) -> None:
        self._redis = redis
        self.key = f"mpesa:ratelimit:{shortcode}"
        self.rate = rate

    async def try_take(self) -> float:
        """0.0 when a send may go now; otherwise the seconds to wait."""
        wait = await self._redis.eval(BUCKET_LUA, 1, self.key, self.rate.burst, self.rate.micros_per_token)
        return int(wait) / 1_000_000

    async def take(self, *, max_wait_s: float) -> bool:
        """Wait up to `max_wait_s` for a token; False when none came (the caller re-queues)."""
        deadline = time.monotonic() + max_wait_s
        while True:
            wait = await self.try_take()
            if wait == 0:
                return True
            if time.monotonic() + wait > deadline:
                return False
            await asyncio.sleep(wait)


class MemoryTokenBucket:
    """The same bucket inside one process (embedded default)."""

    def __init__(self, *, rate: RateLimit) -> None:
        self.rate = rate
        self._tokens = float(rate.burst)
        self._ts = time.monotonic()

    async def try_take(self) -> float:
        now = time.monotonic()
        per_token = self.rate.micros_per_token / 1_000_000
        self._tokens = min(self.rate.burst, self._tokens + (now - self._ts) / per_token)
        self._ts = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) * per_token

    async def take(self, *, max_wait_s: float) -> bool:
        deadline = time.monotonic() + max_wait_s
        while True:
            wait = await self.try_take()
            if wait == 0:
                return True
            if time.monotonic() + wait > deadline:
                return False
            await asyncio.sleep(wait)
