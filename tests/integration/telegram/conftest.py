"""Telegram tests never touch the network: a connect to anything but this machine fails the test
(as PTB's own OfflineRequest does)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from channels.telegram.double import BotApiDouble, DoubleServer

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
