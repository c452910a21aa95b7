"""Fuzz issue 19's self-care states over the real callback (PostgreSQL, Redis, the whole app): every
session starts on a path into rates, statement & pending, deposit & top up, the send menu, Help or
the forgotten-PIN reset, then types anything. Never a 5xx, always CON/END <= 182 characters, never
the engine's crash reply."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.i18n import translate
from tests.e2e.ussd.conftest import AtPhone, app_on_own_loop, fuzz_walk, refresh_rates, register

CRASHED = {translate("error.generic", "en"), translate("error.generic", "sw")}
PHONE = "+254712345678"
PATHS = [["8"], ["7"], ["7", "1"], ["6"], ["6", "4"], ["4"], ["4", "3"], ["9", "4"], ["9", "4", "1"],
         ["9", "4", "1", "1"], ["9", "4", "1", "1", "123456"], ["9", "1", "1111", "99"]]  # fmt: skip
INPUT = st.one_of(
    st.sampled_from(["", "0", "00", "1", "2", "98", "99", "123456", "12345678", "5937", "1111", "*"]),
    st.text(max_size=40),
)
# the engine's last resort: a state raised
CRASH_REPLIES = {f"{kind} {text}" for kind in ("CON", "END") for text in CRASHED}


def test_self_care_states_survive_random_input(clean_pg_url: str, redis_url: str) -> None:
    with app_on_own_loop(clean_pg_url, redis_url) as (loop, rt, client):

        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        @given(path=st.sampled_from(PATHS), hops=st.lists(INPUT, min_size=1, max_size=4))
        def run(path: list[str], hops: list[str]) -> None:
            loop.run_until_complete(fuzz_walk(client, PHONE, [*path, *hops], crash_replies=CRASH_REPLIES))

        loop.run_until_complete(refresh_rates(rt))
        loop.run_until_complete(register(AtPhone(client, PHONE), "2", "Fuzz Tester"))
        run()
