"""The chat state store's redelivery check with the read of the user's state (one Redis round trip):
the first delivery of an update_id gets the state, a redelivery gets nothing; Redis and memory alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from core.telegram.store import ChatStateStore, MemoryChatStates, RedisChatStates


@pytest.fixture(params=["redis", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ChatStateStore]:
    if request.param == "memory":
        yield MemoryChatStates()
        return
    client = redis.asyncio.Redis.from_url(request.getfixturevalue("redis_url"))
    yield RedisChatStates(client)
    await client.aclose()


async def test_first_delivery_comes_with_the_users_state_and_a_redelivery_with_nothing(
    store: ChatStateStore,
) -> None:
    assert await store.first_delivery_and_load(101, 7) == (True, None)  # no state yet
    assert await store.first_delivery_and_load(101, 7) == (False, None)  # redelivered
    state = {"state": "sell.amount", "data": {"asset": "BTC"}, "who": {"c": None, "at": 1.5}}
    await store.save(7, state)
    assert await store.first_delivery_and_load(102, 7) == (True, state)
    assert await store.first_delivery_and_load(102, 7) == (False, None)
    assert await store.first_delivery(102) is False, "the same update_ids as first_delivery's"
    assert await store.first_delivery(103) is True
    assert await store.first_delivery_and_load(103, 7) == (False, None)
    assert await store.first_delivery_and_load(104, 8) == (True, None), "another user's state is not read"
