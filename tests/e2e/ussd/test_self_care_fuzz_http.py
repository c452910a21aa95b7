"""Fuzz issue 19's self-care states over the real callback (PostgreSQL, Redis, the whole app): every
session starts on a path into rates, statement & pending, deposit & top up, the send menu, Help or
the forgotten-PIN reset, then types anything. Never a 5xx, always CON/END <= 182 characters, never
the engine's crash reply."""

from __future__ import annotations

import asyncio
import itertools

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import runtime as runtime_module
from core.config import Settings
from core.i18n import translate
from tests.e2e.ussd.conftest import TOKEN, AtPhone, refresh_rates
from tests.e2e.ussd.test_journeys_http import _register
from webapp.app import create_app
from webapp.bootstrap import build_runtime

_ids = itertools.count(1)
CRASHED = {translate("error.generic", "en"), translate("error.generic", "sw")}
PHONE = "+254712345678"
PATHS = [["8"], ["7"], ["7", "1"], ["6"], ["6", "4"], ["4"], ["4", "3"], ["9", "4"], ["9", "4", "1"],
         ["9", "4", "1", "1"], ["9", "4", "1", "1", "123456"], ["9", "1", "1111", "99"]]  # fmt: skip
INPUT = st.one_of(
    st.sampled_from(["", "0", "00", "1", "2", "98", "99", "123456", "12345678", "5937", "1111", "*"]),
    st.text(max_size=40),
)


def test_self_care_states_survive_random_input(clean_pg_url: str, redis_url: str) -> None:
    loop = asyncio.new_event_loop()
    rt = build_runtime(
        Settings(kibeti_env="test", database_url=clean_pg_url, redis_url=redis_url, at_callback_token=TOKEN)
    )
    runtime_module.install(rt)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://t")

    async def post(session_id: str, text: str) -> str:
        form = {"sessionId": session_id, "serviceCode": "*483*1#", "phoneNumber": PHONE, "networkCode": "63902",
                "text": text}  # fmt: skip
        response = await client.post(f"/ussd/{TOKEN}", data=form)
        assert response.status_code == 200, response.text
        assert response.text.startswith(("CON ", "END ")) and len(response.text) - 4 <= 182, response.text
        assert response.text[4:] not in CRASHED, text  # the engine's last resort: a state raised
        return response.text

    async def session(path: list[str], hops: list[str]) -> None:
        session_id, typed = f"fuzzcare-{next(_ids)}", []
        await post(session_id, "")
        for value in [*path, *hops]:
            typed.append(value)
            if (await post(session_id, "*".join(typed))).startswith("END "):
                return

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(PATHS), hops=st.lists(INPUT, min_size=1, max_size=4))
    def run(path: list[str], hops: list[str]) -> None:
        loop.run_until_complete(session(path, hops))

    try:
        loop.run_until_complete(refresh_rates(rt))
        loop.run_until_complete(_register(AtPhone(client, PHONE), "2", "Fuzz Tester"))
        run()
    finally:
        loop.run_until_complete(client.aclose())
        if rt.redis is not None:
            loop.run_until_complete(rt.redis.aclose())
        rt.queue.connection.close()  # type: ignore[attr-defined]
        loop.run_until_complete(rt.session_factory.kw["bind"].dispose())
        loop.close()
