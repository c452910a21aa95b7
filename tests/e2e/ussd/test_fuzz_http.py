"""Fuzz the real callback (PostgreSQL, Redis, the whole app): never a 5xx, always CON/END <= 182."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.ussd.conftest import TOKEN, app_on_own_loop
from tests.unit.ussd.test_fuzz import USSD_TEXT

_ids = itertools.count(1)


def test_callback_survives_random_text(clean_pg_url: str, redis_url: str) -> None:
    with app_on_own_loop(clean_pg_url, redis_url) as (loop, _rt, client):

        async def session(phone: str, hops: list[str]) -> None:
            session_id = f"fuzz-{next(_ids)}"
            for text in ["", *hops]:
                form = {"sessionId": session_id, "serviceCode": "*483*1#", "phoneNumber": phone, "networkCode": "99999",
                        "text": text}  # fmt: skip
                response = await client.post(f"/ussd/{TOKEN}", data=form)
                assert response.status_code == 200, response.text
                assert response.text.startswith(("CON ", "END ")) and len(response.text) - 4 <= 182, (
                    response.text
                )

        async def register() -> None:
            for text in ["", "1", "1*Fuzz Tester", "1*Fuzz Tester*12345678", "1*Fuzz Tester*12345678*1",
                         "1*Fuzz Tester*12345678*1*4826", "1*Fuzz Tester*12345678*1*4826*4826"]:  # fmt: skip
                form = {
                    "sessionId": "reg",
                    "serviceCode": "*483*1#",
                    "phoneNumber": "+254712345678",
                    "text": text,
                }
                await client.post(f"/ussd/{TOKEN}", data=form)

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(hops=st.lists(USSD_TEXT, min_size=1, max_size=5), registered=st.booleans())
        def run(hops: list[str], registered: bool) -> None:
            loop.run_until_complete(session("+254712345678" if registered else "+254722999888", hops))

        loop.run_until_complete(register())
        run()
        odd = {"sessionId": "x", "phoneNumber": "not-a-phone", "text": "1"}
        assert loop.run_until_complete(client.post(f"/ussd/{TOKEN}", data=odd)).status_code == 200
        assert loop.run_until_complete(client.post(f"/ussd/{TOKEN}", content=b"\xff\x00")).status_code == 200
