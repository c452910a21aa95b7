"""The bot's update processor (channels.telegram.ordering.PerChatOrder): different users' updates are
handled at the same time, one user's in the order they came, and at most `concurrency` at once."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update

from channels.telegram.ordering import PerChatOrder, order_key


def _update(update_id: int, user_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id, "date": 1, "text": "hi",
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            },
        },
        None,
    )  # fmt: skip


async def _feed(processor: PerChatOrder, updates: list[tuple[Update, Any]]) -> list[asyncio.Task[None]]:
    """As PTB's update fetcher does: one task per update, created in queue order."""
    tasks = [asyncio.create_task(processor.process_update(u, c)) for u, c in updates]
    await asyncio.sleep(0)
    return tasks


async def test_a_slow_chat_holds_up_only_its_own_later_updates() -> None:
    processor = PerChatOrder()
    await processor.initialize()
    done: list[int] = []
    release_first = asyncio.Event()

    async def handle(update_id: int, wait: asyncio.Event | None = None) -> None:
        if wait is not None:
            await wait.wait()
        done.append(update_id)

    tasks = await _feed(
        processor,
        [
            (_update(1, 501), handle(1, release_first)),  # user 501's first update is slow
            (_update(2, 501), handle(2)),  # user 501's second must wait for it
            (_update(3, 777), handle(3)),  # another user's is not held up
        ],
    )
    for _ in range(20):
        await asyncio.sleep(0)
    assert done == [3], "the other user's update was held up, or 501's second overtook its first"
    release_first.set()
    await asyncio.gather(*tasks)
    assert done == [3, 1, 2]
    assert not processor._last, "finished users are forgotten"


async def test_one_users_updates_keep_their_order_under_load() -> None:
    processor = PerChatOrder(concurrency=4)
    await processor.initialize()
    seen: dict[int, list[int]] = {}
    running = 0
    most = 0

    async def handle(user_id: int, n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.001 * ((n * 7 + user_id) % 3))  # uneven work
        seen.setdefault(user_id, []).append(n)
        running -= 1

    updates = [(_update(n * 10 + u, u), handle(u, n)) for n in range(12) for u in (1, 2, 3, 4, 5, 6)]
    await asyncio.gather(*await _feed(processor, updates))
    assert all(order == list(range(12)) for order in seen.values()), seen
    assert len(seen) == 6
    assert most == 4, "at most `concurrency` at once, and that many when there is work"


async def test_a_cancelled_update_does_not_hold_up_the_next() -> None:
    processor = PerChatOrder()
    await processor.initialize()
    done: list[int] = []
    never = asyncio.Event()

    async def handle(update_id: int, wait: asyncio.Event | None = None) -> None:
        if wait is not None:
            await wait.wait()
        done.append(update_id)

    first, second, third = await _feed(
        processor, [(_update(1, 9), handle(1, never)), (_update(2, 9), handle(2)), (_update(3, 9), handle(3))]
    )
    await asyncio.sleep(0)
    second.cancel()  # waiting its turn: its handler never runs, and is closed (no "never awaited")
    first.cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    await third
    assert done == [3]


def test_the_key_is_the_user_then_the_chat() -> None:
    assert order_key(_update(1, 42)) == ("user", 42)
    channel_post = Update.de_json(
        {
            "update_id": 2,
            "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "channel"}},
        },
        None,
    )
    assert order_key(channel_post) == ("chat", -100)
    assert order_key(object()) == ("other",)
