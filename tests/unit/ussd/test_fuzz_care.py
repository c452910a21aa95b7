"""Fuzz over the USSD states of issue 19 (rates, pending, deposit & top up, send menu, help,
forgotten PIN): always an answer, never over 182 characters, never the crash reply. Its own module:
a synchronous test driving its own loops must not share a module with pytest-asyncio's tests."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.ussd.engine import Engine, HopRequest
from channels.ussd.session import MemorySessionStore
from channels.ussd.states import TABLE
from core.i18n import translate
from tests.unit.ussd.fakes import FakeFlows
from tests.unit.ussd.test_self_care_and_safety import CONTACTS, NUMBER, WAITING, _customer

# fuzz over the new states: always an answer, never over 182 characters, never the crash reply ------

NEW_STATE_PATHS = [["8"], ["7"], ["7", "1"], ["6"], ["4"], ["9", "4"], ["9", "4", "1"], ["9", "4", "1", "1"],
                   ["9", "4", "1", "1", "314159"], ["9", "4", "1", "1", "314159", "31234567"], ["9", "1", "99"]]  # fmt: skip
FUZZ_INPUTS = st.lists(
    st.one_of(
        st.sampled_from(
            ["", "0", "00", "1", "2", "3", "4", "98", "99", "314159", "31234567", "5937", "1111", "*", "#"]
        ),
        st.text(max_size=40),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(NEW_STATE_PATHS), inputs=FUZZ_INPUTS, language=st.sampled_from(["en", "sw"]))
def test_fuzz_new_states(path: list[str], inputs: list[str], language: str) -> None:
    flows = FakeFlows()
    _customer(flows, language)
    flows.waiting = list(WAITING)
    engine = Engine(table=TABLE, store=MemorySessionStore(), flows=flows, secret=b"s", contacts=CONTACTS)
    crash = {translate("error.generic", "en"), translate("error.generic", "sw")}

    async def run() -> None:
        typed: list[str] = []
        await engine.hop(HopRequest("F1", NUMBER, ""))
        for value in [*path, *inputs]:
            typed.append(value)
            screen = await engine.hop(HopRequest("F1", NUMBER, "*".join(typed)))
            assert 0 < len(screen.text) <= 182, screen.text
            assert screen.text not in crash, (typed, screen.text)
            if screen.end:
                break

    asyncio.run(run())
