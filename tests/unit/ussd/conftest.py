from __future__ import annotations

import itertools

import pytest

from channels.ussd.engine import Engine, HopRequest
from channels.ussd.session import MemorySessionStore
from channels.ussd.states import TABLE
from tests.unit.ussd.fakes import FakeFlows

_ids = itertools.count(1)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Phone:
    """Dials and types like a handset behind Africa's Talking: `text` accumulates with '*'."""

    def __init__(self, engine: Engine, number: str) -> None:
        self.engine, self.number = engine, number
        self.inputs: list[str] = []
        self.session_id = ""

    async def dial(self) -> str:
        self.inputs = []
        self.session_id = f"ATUid_{next(_ids)}"
        return await self._hop()

    async def send(self, value: str) -> str:
        self.inputs.append(value)
        return await self._hop()

    async def repeat(self) -> str:
        return await self._hop()

    async def _hop(self) -> str:
        request = HopRequest(self.session_id, self.number, "*".join(self.inputs), "*483*1#", "63902")
        screen = await self.engine.hop(request)
        assert len(screen.text) <= 160, screen.text
        return ("END " if screen.end else "CON ") + screen.text


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def flows() -> FakeFlows:
    return FakeFlows()


@pytest.fixture
def engine(flows: FakeFlows, clock: Clock) -> Engine:
    return Engine(table=TABLE, store=MemorySessionStore(now=clock), flows=flows, secret=b"test-secret")


@pytest.fixture
def phone(engine: Engine) -> Phone:
    return Phone(engine, "+254712345678")
