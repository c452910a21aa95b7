"""The lean reads' lane gives every slot back, whatever happens to a waiting read."""

from __future__ import annotations

import asyncio

import pytest

from core.flows.accounts import _Lane


async def test_a_waiting_read_cancelled_after_a_slot_was_handed_to_it_gives_the_slot_back() -> None:
    lane = _Lane(2)  # one lean read at a time
    lane.out = 1  # held by a read in flight
    waiter = asyncio.create_task(lane.acquire(engine=None))  # type: ignore[arg-type]
    while not lane.waiting:
        await asyncio.sleep(0)
    lane._give_up_slot()  # the read in flight failed: its slot goes to the waiter...
    waiter.cancel()  # ...which is cancelled (its client went away) before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert lane.out == 0 and not lane.waiting


async def test_a_slot_handed_to_a_cancelled_waiter_goes_on_to_the_next_one() -> None:
    lane = _Lane(2)
    lane.out = 1
    first = asyncio.create_task(lane.acquire(engine=None))  # type: ignore[arg-type]
    while len(lane.waiting) < 1:
        await asyncio.sleep(0)
    handed_on: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    lane.waiting.append(handed_on)  # a second read waiting behind the first
    lane._give_up_slot()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert handed_on.done() and handed_on.result() is None  # the slot, for it to fill itself
    assert lane.out == 1
