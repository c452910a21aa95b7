"""The one polling helper: wait for the condition a test asserts, never for a proxy of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 60, what: str = "", every: float = 0.1
) -> T:
    """Poll until `check()` returns something truthy, and return it (the app works by itself in the
    background). The timeout only bounds the wait: generous, so a busy machine is not a failure."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(every)
