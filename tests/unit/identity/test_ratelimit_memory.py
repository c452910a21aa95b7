from __future__ import annotations

import pytest

from core.ratelimit import Limit, MemoryRateLimiter


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("strategy", ["fixed", "sliding"])
async def test_limit_then_retry_after(strategy: str) -> None:
    ticker = Ticker()
    limiter = MemoryRateLimiter(now=ticker)
    limit = Limit("t", 3, 60, strategy)  # type: ignore[arg-type]
    results = [await limiter.hit(limit, "ip:1") for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, True]
    assert results[-1].remaining == 0
    blocked = await limiter.hit(limit, "ip:1")
    assert not blocked.allowed and 1 <= blocked.retry_after <= 60
    assert (await limiter.hit(limit, "ip:2")).allowed  # other keys unaffected
    ticker.now += 61
    assert (await limiter.hit(limit, "ip:1")).allowed


async def test_sliding_window_retry_after_counts_from_oldest_hit() -> None:
    ticker = Ticker()
    limiter = MemoryRateLimiter(now=ticker)
    limit = Limit("s", 2, 60)
    await limiter.hit(limit, "k")
    ticker.now += 30
    await limiter.hit(limit, "k")
    ticker.now += 10
    blocked = await limiter.hit(limit, "k")
    assert blocked.retry_after == 20


def test_limit_validates() -> None:
    with pytest.raises(ValueError):
        Limit("bad", 0, 60)
