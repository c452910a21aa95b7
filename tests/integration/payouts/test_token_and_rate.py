"""The shared OAuth token (single-flight across processes) and the shortcode token bucket, on real Redis."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import redis.asyncio

from payouts.mpesa.token import RedisTokenCache
from payouts.rate_limit import RateLimit, RedisTokenBucket

pytestmark = pytest.mark.redis


async def test_refresh_is_single_flight_and_invalidation_is_compare_and_delete(redis_url):
    connection = redis.asyncio.Redis.from_url(redis_url)
    fetches = 0

    async def fetch():
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.1)  # a slow OAuth call: everyone else must wait for it, not call again
        return f"token-{fetches}", 3599

    caches = [RedisTokenCache(connection, fetch, namespace="sim|key") for _ in range(20)]
    tokens = await asyncio.gather(*(cache.get() for cache in caches))
    assert set(tokens) == {"token-1"} and fetches == 1
    await caches[0].invalidate("some-older-token")  # a stale refusal must not drop the fresh token
    assert await caches[1].get() == "token-1" and fetches == 1
    await caches[0].invalidate("token-1")
    assert await caches[2].get() == "token-2" and fetches == 2
    assert 0 < await connection.ttl(caches[0].key) <= 3599 - 600
    await connection.aclose()


def _take_many(redis_url: str, count: int) -> list[float]:
    async def run() -> list[float]:
        connection = redis.asyncio.Redis.from_url(redis_url)
        bucket = RedisTokenBucket(
            connection, shortcode="600000", rate=RateLimit(limit=20, period_s=1, burst=2)
        )
        times = []
        for _ in range(count):
            assert await bucket.take(max_wait_s=30)
            times.append(time.time())
        await connection.aclose()
        return times

    return asyncio.run(run())


def test_four_processes_share_one_bucket(redis_url):
    started = time.time()  # the bucket runs on Redis TIME, the same wall clock
    with ProcessPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_take_many, [redis_url] * 4, [10] * 4))
    times = sorted(t for r in results for t in r)
    assert len(times) == 40
    # Burst 2, 20 a second: at most 2 + 20 t tokens in the first t seconds, and each is seen after it
    # is granted, so the k-th cannot be seen before started + (k - 2) / 20 (load only delays it).
    # Four processes with a bucket each would be done in a quarter of the time.
    for k, seen in enumerate(times, start=1):
        assert seen >= started + (k - 2) / 20 - 0.001, (k, seen - started)


async def test_bucket_without_token_reports_the_wait(redis_url):
    connection = redis.asyncio.Redis.from_url(redis_url)
    bucket = RedisTokenBucket(connection, shortcode="600001", rate=RateLimit(limit=1, period_s=3600, burst=1))
    assert await bucket.try_take() == 0
    wait = await bucket.try_take()
    assert 3590 < wait <= 3600
    assert await bucket.take(max_wait_s=0.1) is False
    await connection.aclose()
