"""The merchant dashboard's payment-SMS phones and webhook URL refused in the viewer's language (found
by trying it as a new merchant): in Swahili a wrong phone said "notification phone: that is not a
valid Kenyan mobile number" and "abc" said "Hii ni fupi mno." (too short) without naming a phone; a
refused webhook URL said "Imekataliwa: a webhook URL starts with https://..."; and numbers one per
line were refused though the hint says only "separated by commas"."""

from __future__ import annotations

import httpx
import pytest

from core.merchants import service as merchants
from core.runtime import Runtime
from tests.integration.merchant_portal.test_merchant_dashboard import (
    _client,
    _invite,
    _merchant,
    _sign_in,
    rt,
)

__all__ = ["rt"]  # the fixture, shared with the dashboard's main tests
ENGLISH = ("notification phone", "not a valid", "Kenyan mobile", "a webhook URL", "starts with", "too short")


async def _owner(rt: Runtime, client: httpx.AsyncClient, language: str) -> tuple[str, int]:
    merchant_id = await _merchant(rt, "Duka la Amani")
    token = await _sign_in(client, await _invite(rt, merchant_id, "owner@amani.test", "owner"))
    switched = await client.post("/merchant/language", data={"csrf_token": token, "language": language})
    assert switched.status_code == 303
    return token, merchant_id


async def test_a_wrong_phone_is_named_in_swahili(rt: Runtime) -> None:
    async with _client(rt) as client:
        token, _ = await _owner(rt, client, "sw")
        six = ", ".join(f"07120000{n:02d}" for n in range(1, 7))
        for typed, expected in (
            ("0712345678, 0799", "0799 si nambari ya simu ya Kenya."),
            ("abc", "abc si nambari ya simu ya Kenya."),
            ("0712 345 678; 0800 000 000", "0800 000 000 si nambari ya simu ya Kenya."),
            (six, "Weka nambari za simu moja hadi 5"),
        ):
            refused = await client.post(
                "/merchant/settings/phones", data={"csrf_token": token, "phones": typed}
            )
            assert refused.status_code == 422, typed
            assert expected in refused.text, (typed, refused.text[-1500:])
            assert not any(english in refused.text for english in ENGLISH), typed


async def test_phones_one_per_line_are_saved(rt: Runtime) -> None:
    async with _client(rt) as client:
        token, merchant_id = await _owner(rt, client, "en")
        saved = await client.post(
            "/merchant/settings/phones", data={"csrf_token": token, "phones": "0712 345 678\n0722000000"}
        )
        assert saved.status_code == 303, saved.text[-1200:]
    async with rt.session_factory() as session:
        merchant = await merchants.get_merchant(session=session, merchant_id=merchant_id)
        assert merchant.notification_phones == ["+254712345678", "+254722000000"]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("sw", "Imekataliwa: weka anwani ya https:// kwenye mtandao ambayo Kibeti inaweza kufikia"),
        ("en", "Refused: a webhook URL starts with https://"),
    ],
)
async def test_a_refused_webhook_url_says_why_in_the_viewers_language(
    rt: Runtime, language: str, expected: str
) -> None:
    async with _client(rt) as client:
        token, _ = await _owner(rt, client, language)
        refused = await client.post(
            "/merchant/webhooks",
            data={"csrf_token": token, "url": "ftp://shop.example.com/hook", "events": ["invoice.paid"]},
        )
        assert refused.status_code == 422
        assert expected in refused.text, refused.text[-1500:]
        if language == "sw":
            assert not any(english in refused.text for english in ENGLISH)
