"""The chat state store's redelivery check with the read of the user's state (one Redis round trip):
the first delivery of an update_id gets the state, a redelivery gets nothing; Redis and memory alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from core.telegram.store import (
    BUSY,
    CLAIMED,
    GO,
    HOLD,
    REDELIVERY,
    ChatStateStore,
    LeaseLost,
    MemoryChatStates,
    RedisChatStates,
)


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


@pytest.fixture
async def turns(redis_url: str) -> AsyncIterator[RedisChatStates]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield RedisChatStates(client, lease_ms=200)
    await client.aclose()


async def test_a_turn_asked_again_with_its_token_is_the_same_turn_and_done_is_done_for_all(
    turns: RedisChatStates,
) -> None:
    """The script ran and its answer was lost: the same token gets the same turn (not 'seen'); any
    other token is a redelivery; once done, the same token too."""
    await turns.save(7, {"state": "idle"})
    assert await turns.begin(201, "u7", 7, "p:1") == (GO, {"state": "idle"})
    assert await turns.begin(201, "u7", 7, "p:1") == (GO, {"state": "idle"}), "its own lost answer"
    assert await turns.begin(201, "u7", 7, "q:1") == (CLAIMED, None), "the live holder's"
    assert await turns.next_turn("u7", 7, "p:1", 201) is None  # done, chat released
    assert await turns.next_turn("u7", 7, "p:1", 201) is None, "the release asked again"
    assert await turns.begin(201, "u7", 7, "p:1") == (REDELIVERY, None)


async def test_a_busy_chats_updates_queue_behind_its_holder_in_arrival_order(turns: RedisChatStates) -> None:
    assert (await turns.begin(301, "u8", 8, "a:1"))[0] == GO
    assert (await turns.begin(303, "u8", 8, "b:1"))[0] == BUSY
    assert await turns.enqueue(303, "u8", "b:1", '{"update_id": 303}') == BUSY
    assert await turns.enqueue(302, "u8", "b:2", '{"update_id": 302}') == BUSY
    assert await turns.enqueue(301, "u8", "b:3", '{"update_id": 301}') == CLAIMED, "the holder's own"
    await turns.save(8, {"state": "sell.amount"})
    first = await turns.next_turn("u8", 8, "a:1", 301)
    assert first is not None and (first.update_id, first.body) == ("303", '{"update_id": 303}')
    assert first.state == {"state": "sell.amount"}
    again = await turns.next_turn("u8", 8, "a:1", 301)
    assert again == first, "the next turn asked again is the same update"
    second = await turns.next_turn("u8", 8, "a:1", 303)
    assert second is not None and second.update_id == "302"
    assert await turns.next_turn("u8", 8, "a:1", 302) is None
    assert (await turns.begin(304, "u8", 8, "b:4"))[0] == GO, "released"


async def test_an_update_claimed_by_a_holder_that_died_may_be_taken_again(turns: RedisChatStates) -> None:
    assert (await turns.begin(401, "u9", 9, "dead:1"))[0] == GO
    assert await turns.enqueue(402, "u9", "b:1", '{"update_id": 402}') == BUSY
    await asyncio.sleep(0.3)  # its lease lapses (200 ms)
    assert await turns.enqueue(402, "u9", "b:1", '{"update_id": 402}') == HOLD, "the queuer takes the chat"
    queued = await turns.next_turn("u9", 9, "b:1", None)
    assert queued is not None and queued.update_id == "402"
    assert await turns.next_turn("u9", 9, "b:1", 402) is None
    assert (await turns.begin(401, "u9", 9, "c:1"))[0] == GO, "its claimer died: a redelivery is taken"
    with pytest.raises(LeaseLost):  # the old holder wakes up (it had stalled): not its chat any more
        await turns.next_turn("u9", 9, "dead:1", 401)


async def test_a_queued_update_too_old_when_its_turn_comes_is_dropped_and_marked_done(
    turns: RedisChatStates, caplog: pytest.LogCaptureFixture
) -> None:
    """A queued update whose holder died handling it waits for the next message at worst: older than
    the bound then, it is dropped (logged, marked done) instead of replayed before that message."""
    turns.queued_max_ms = 100
    assert (await turns.begin(501, "u10", 10, "a:1"))[0] == GO
    assert await turns.enqueue(502, "u10", "b:1", '{"update_id": 502}') == BUSY
    await asyncio.sleep(0.3)  # the holder died: its lease lapsed, and 502 is older than the bound
    assert await turns.enqueue(503, "u10", "c:1", '{"update_id": 503}') == HOLD
    with caplog.at_level("WARNING", logger="core.telegram.store"):
        queued = await turns.next_turn("u10", 10, "c:1", None)
    assert queued is not None and (queued.update_id, queued.body) == ("503", '{"update_id": 503}')
    assert any("u10" in r.getMessage() and "502" in r.getMessage() for r in caplog.records), caplog.text
    assert await turns.enqueue(502, "u10", "b:1", '{"update_id": 502}') == REDELIVERY, "its watcher stops"
    assert await turns.next_turn("u10", 10, "c:1", 503) is None


async def test_a_holder_releasing_leaves_the_rest_of_the_queue_to_others(turns: RedisChatStates) -> None:
    assert (await turns.begin(601, "u11", 11, "a:1"))[0] == GO
    assert await turns.enqueue(602, "u11", "b:1", '{"update_id": 602}') == BUSY
    assert await turns.next_turn("u11", 11, "a:1", 601, release=True) is None, "released, 602 not taken"
    assert await turns.enqueue(602, "u11", "b:1", '{"update_id": 602}') == HOLD, "its watcher takes the chat"
    queued = await turns.next_turn("u11", 11, "b:1", None)
    assert queued is not None and queued.update_id == "602"
