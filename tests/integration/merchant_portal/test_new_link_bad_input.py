"""The merchant dashboard's new payment link refused in the viewer's language (found by trying it as
a new merchant): in Swahili it said "Hakijaundwa: the amount must be a positive KES amount with at
most 2 decimals" (core's English reason); and "1,500", which USSD and the customer portal take,
was refused."""

from __future__ import annotations

import httpx
import pytest

from core.runtime import Runtime
from tests.integration.merchant_portal.test_merchant_dashboard import (
    _client,
    _invite,
    _merchant,
    _sign_in,
    rt,
)

__all__ = ["rt"]  # the fixture, shared with the dashboard's main tests
ENGLISH_REASONS = ("the amount", "must be", "invoice limit", "at least KES")


async def _owner_client(rt: Runtime, client: httpx.AsyncClient, language: str) -> str:
    owner = await _invite(rt, await _merchant(rt, "Duka la Amani"), "owner@amani.test", "owner")
    token = await _sign_in(client, owner)
    if language != "en":
        switched = await client.post("/merchant/language", data={"csrf_token": token, "language": language})
        assert switched.status_code == 303
    return token


@pytest.mark.parametrize(
    ("language", "bad", "over", "small"),
    [
        (
            "sw",
            "Weka kiasi kwa KES, mfano 1500 au 1,500.50.",
            "Hakijaundwa: kinazidi kikomo cha kiungo kimoja cha malipo, KES ",
            "Hakijaundwa: kiungo cha malipo ni angalau KES 1.00.",
        ),
        (
            "en",
            "Enter the amount in KES, e.g. 1500 or 1,500.50.",
            "Not created: above your limit for one payment link, KES ",
            "Not created: a payment link is at least KES 1.00.",
        ),
    ],
)
async def test_a_refused_link_says_why_in_the_viewers_language(
    rt: Runtime, language: str, bad: str, over: str, small: str
) -> None:
    async with _client(rt) as client:
        token = await _owner_client(rt, client, language)
        for typed, expected in (
            ("abc", bad), ("-5", bad), ("0", bad), ("1.234", bad), ("1e3", bad),
            ("99999999999", over), ("0.50", small),
        ):  # fmt: skip
            refused = await client.post("/merchant/invoices/new", data={"csrf_token": token, "amount": typed})
            assert refused.status_code == 422, typed
            assert expected in refused.text, (typed, refused.text[-1200:])
            if language == "sw":
                assert not any(reason in refused.text for reason in ENGLISH_REASONS), typed
        assert "/merchant/invoices/inv_" not in (await client.get("/merchant/")).text  # nothing was made


async def test_an_amount_typed_with_a_thousands_comma_makes_the_link(rt: Runtime) -> None:
    async with _client(rt) as client:
        token = await _owner_client(rt, client, "en")
        made = await client.post("/merchant/invoices/new", data={"csrf_token": token, "amount": "1,500"})
        assert made.status_code == 303, made.text[-800:]
        detail = await client.get(made.headers["location"])
        assert detail.status_code == 200 and "KES 1,500.00" in detail.text
