"""The rail clients read the time from the clock they are given (the runtime's), not the system's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from cryptography import x509

from core.clock import FixedClock
from payouts.mpesa import wire
from payouts.mpesa.client import DarajaClient, DarajaConfig
from payouts.mpesa.credentials import generate_test_certificate
from payouts.pesapal import client as pesapal
from payouts.pesapal.client import PesapalConfig

CLOCK = FixedClock(datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC))  # far from any system clock
CERT = generate_test_certificate(clock=CLOCK)


class StaticTokens:
    async def get(self) -> str:
        return "token"

    async def invalidate(self, token: str) -> None:
        return None


def test_a_test_certificate_is_valid_from_the_day_before_its_clock():
    cert = x509.load_pem_x509_certificate(CERT[0])
    assert cert.not_valid_before_utc == CLOCK.now() - timedelta(days=1)


async def test_the_stk_password_is_stamped_with_the_clients_clock():
    sent: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"CheckoutRequestID": "ws_CO_1", "ResponseCode": "0"})

    config = DarajaConfig(
        base_url="http://daraja", consumer_key="k", consumer_secret="s", shortcode="600000", passkey="pk",
        initiator_name="testapi", initiator_password="pw", certificate_pem=CERT[0],
        callback_base_url="http://app", callback_token="tok",
    )  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = DarajaClient(config, http=http, tokens=StaticTokens(), clock=CLOCK)
        await client.stk_push(phone="+254712345678", amount=10, account_reference="KB1")
    stamp = wire.stk_timestamp(CLOCK.now())
    assert stamp == "20310304080607"  # Nairobi time
    assert sent[0]["Timestamp"] == stamp
    assert sent[0]["Password"] == wire.stk_password("600000", "pk", stamp)


async def test_a_pesapal_token_lives_until_its_expiry_on_the_given_clock():
    expiry = (CLOCK.now() + timedelta(minutes=4)).isoformat()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": "t", "expiryDate": expiry})

    config = PesapalConfig(base_url="http://pesapal", consumer_key="k", consumer_secret="s")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        token, seconds = await pesapal.fetch_token(http, config, clock=CLOCK)
    assert (token, seconds) == ("t", 240)
