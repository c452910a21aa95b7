"""The customer portal's sign-in told what is wrong with what was typed, in the customer's language
(found by trying it as a new user): "abc" or "0799" as the phone number, or five digits as the code,
said "Fill in this field" (the field was filled) or "This is not valid"; the last wrong code said
"1 tries left", and a code used up by wrong tries said to dial the USSD code for the PIN reset
(9 > 4 > 1), which sends no sign-in code."""

from __future__ import annotations

import httpx
import pytest

from core.runtime import Runtime
from tests.integration.customer_portal.test_customer_portal import PHONE, _client, _csrf, rt

__all__ = ["rt"]  # the fixture, shared with the portal's main tests
BAD_PHONE = {
    "en": "Enter a Kenyan mobile number such as 0712 345 678.",
    "sw": "Weka nambari ya simu ya Kenya kama 0712 345 678.",
}
REQUIRED = {"en": "Fill in this field.", "sw": "Jaza sehemu hii."}


async def _form(client: httpx.AsyncClient, language: str) -> str:
    page = await client.get("/app/sign-in", headers={"accept-language": language})
    return _csrf(page.text)


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_a_phone_number_that_is_not_one_is_told_so_in_the_customers_language(
    rt: Runtime, language: str
) -> None:
    async with _client(rt) as client:
        csrf = await _form(client, language)
        for typed in ("abc", "0799", "0800 000 000", "07 1130 04001"):
            refused = await client.post("/app/sign-in", data={"csrf_token": csrf, "phone": typed})
            assert refused.status_code == 422, typed
            assert BAD_PHONE[language] in refused.text, (typed, refused.text[-1500:])
            assert REQUIRED[language] not in refused.text, typed
        empty = await client.post("/app/sign-in", data={"csrf_token": csrf, "phone": ""})
        assert empty.status_code == 422 and REQUIRED[language] in empty.text


async def test_a_code_of_the_wrong_shape_says_it_is_six_digits(rt: Runtime) -> None:
    async with _client(rt) as client:
        csrf = await _form(client, "en")
        await client.post("/app/sign-in", data={"csrf_token": csrf, "phone": PHONE})
        for typed in ("12345", "abcdef", "1234567"):
            refused = await client.post(
                "/app/sign-in/code", data={"csrf_token": csrf, "phone": PHONE, "otp": typed}
            )
            assert refused.status_code == 422, typed
            assert "The code is the 6 digits in the SMS." in refused.text, typed
            assert "Fill in this field." not in refused.text and "This is not valid." not in refused.text


@pytest.mark.parametrize(
    ("language", "last", "used_up"),
    [
        ("en", "1 try left.", "Enter your number again for a new code."),
        ("sw", "Umebakiza jaribio 1.", "Weka nambari yako ya simu tena upate nambari mpya."),
    ],
)
async def test_the_last_try_is_singular_and_a_used_up_code_says_to_ask_here_for_a_new_one(
    rt: Runtime, language: str, last: str, used_up: str
) -> None:
    async with _client(rt) as client:
        csrf = await _form(client, language)
        asked = await client.post("/app/sign-in", data={"csrf_token": csrf, "phone": PHONE})
        assert asked.status_code == 200
        code = rt.notifier.last_code(PHONE)  # type: ignore[union-attr]
        wrong = "000000" if code != "000000" else "111111"
        answers = []
        for _ in range(5):
            refused = await client.post(
                "/app/sign-in/code", data={"csrf_token": csrf, "phone": PHONE, "otp": wrong}
            )
            assert refused.status_code == 422
            answers.append(refused.text)
        assert last in answers[3] and "1 tries" not in answers[3]
        late = await client.post("/app/sign-in/code", data={"csrf_token": csrf, "phone": PHONE, "otp": code})
        for text in (answers[4], late.text):  # out of tries, then the right code too late
            assert used_up in text, text[-1500:]
            assert "9 &gt; 4 &gt; 1" not in text and "0 tries" not in text
        assert late.status_code == 422 and (await client.get("/app/")).status_code == 303
