"""Fuzz issue 19's money states over the real callback (PostgreSQL, Redis, the whole app): a funded,
verified customer with a saved address; every session starts on a path into cash out, buy from the
KES balance, sell all / by KES, a crypto send or a withdrawal, then types anything. Never a 5xx,
always CON/END <= 182 characters."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.i18n import translate
from tests.e2e.ussd.conftest import AtPhone, app_on_own_loop, fund, fuzz_walk, refresh_rates, register
from tests.e2e.ussd.test_money_paths_http import _verified_with_a_saved_address

CRASHED = translate("error.generic", "en")
PHONE = "+254712345678"
# main menu paths into the new states: cash out, buy from the balance, sell all / by KES / by amount,
# a crypto send, a withdrawal to the saved address
PATHS = [["5"], ["2", "3", "2"], ["2", "1", "1"], ["3", "1", "1"], ["3", "3", "2"], ["3", "2", "3"],
         ["4", "1", "0722000111", "4"], ["4", "2"], ["4", "2", "1"]]  # fmt: skip
AMOUNTS = st.sampled_from(
    ["", "0", "1", "5", "10", "10.5", "500", "570", "0.0001", "6000", "1e3", "-5", "99999999"]
)
INPUT = st.one_of(
    AMOUNTS, st.sampled_from(["4826", "1111", "0", "00", "98", "1", "2", "3"]), st.text(max_size=40)
)
CRASH_REPLIES = {"END " + CRASHED}  # the engine's last resort: a state raised


def test_new_money_states_survive_random_input(clean_pg_url: str, redis_url: str) -> None:
    with app_on_own_loop(clean_pg_url, redis_url) as (loop, rt, client):

        async def setup() -> None:
            await refresh_rates(rt)
            await register(AtPhone(client, PHONE), "1", "Fuzz Tester")
            for amount, asset in (
                ("100000", "KES"),
                ("0.01", "BTC"),
                ("1000", "USDT-TRC20"),
                ("1000", "USDT-ERC20"),
            ):
                await fund(rt, PHONE, amount, asset)
            await _verified_with_a_saved_address(rt, PHONE)

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(path=st.sampled_from(PATHS), hops=st.lists(INPUT, min_size=1, max_size=4))
        def run(path: list[str], hops: list[str]) -> None:
            loop.run_until_complete(fuzz_walk(client, PHONE, [*path, *hops], crash_replies=CRASH_REPLIES))

        loop.run_until_complete(setup())
        run()
