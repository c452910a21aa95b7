"""Telegram tests never touch the network: a connect to anything but this machine fails the test
(as PTB's own OfflineRequest does)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio

from core.runtime import Runtime
from simulators.telegram_bot_api import BotApiDouble, DoubleServer

_LOCAL = ("127.", "::1", "localhost")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOCAL):
            raise AssertionError(f"a Telegram test tried to reach the network: {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def bot_api() -> Iterator[DoubleServer]:
    server = DoubleServer(BotApiDouble(token="123456:TEST-token")).start()
    yield server
    server.stop()


async def close_runtime(rt: Runtime) -> None:
    """Close what build_runtime opened (engine, Redis), so no connection is left to the GC."""
    if rt.redis is not None:
        await rt.redis.aclose()
        rt.queue.connection.close()  # type: ignore[attr-defined]
    await rt.session_factory.kw["bind"].dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """GC can finalise an earlier test's loop/socket during these tests (as in tests/e2e/ussd)."""
    for item in items:
        if "integration/telegram" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Any]:
    """An asyncio client on the test's Redis database (the ordering tests read its leases and queues)."""
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()
