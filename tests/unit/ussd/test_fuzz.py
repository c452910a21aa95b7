"""Random `text` values never break the engine: always CON/END, at most 182 characters."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.ussd.engine import Engine, HopRequest
from channels.ussd.parser import clean, derive_input
from channels.ussd.session import MemorySessionStore
from channels.ussd.states import TABLE
from tests.unit.ussd.fakes import FakeFlows

USSD_TEXT = st.one_of(
    st.text(alphabet="0123456789*#", max_size=60),
    st.text(max_size=500),
    st.lists(
        st.sampled_from(["", "0", "00", "98", "1", "2", "3", "4826", "1000", "*", "#", "é", "١٢"]),
        max_size=12,
    ).map("*".join),
    st.just("1" * 500),
    st.just("*" * 500),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hops=st.lists(USSD_TEXT, min_size=1, max_size=8), registered=st.booleans())
def test_engine_answers_any_text(hops: list[str], registered: bool) -> None:
    flows = FakeFlows()
    if registered:
        flows.add_customer("+254712345678")
    engine = Engine(table=TABLE, store=MemorySessionStore(), flows=flows, secret=b"s")

    async def run() -> None:
        first = await engine.hop(HopRequest("S1", "+254712345678", ""))
        assert len(first.text) <= 160
        for text in hops:
            screen = await engine.hop(HopRequest("S1", "+254712345678", text))
            assert 0 < len(screen.text) <= 182

    asyncio.run(run())


@given(previous=st.text(max_size=50), new=st.text(max_size=50))
def test_derive_input_recovers_what_was_typed(previous: str, new: str) -> None:
    if previous:
        assert derive_input(previous, previous + "*" + new) == new
    assert len(clean(new * 20)) <= 64


def test_star_and_empty_inputs() -> None:
    assert derive_input("1*2", "1*2*5*00") == "5*00"
    assert derive_input("1", "1*") == ""
    assert derive_input("1*", "1**2") == "2"
    assert clean(" 500# ") == "500"
