"""The served hop (a plain ASGI endpoint, the app's first route) over HTTP with what a broken or
hostile caller may send: never a 500; an unreadable form is answered END with the generic error,
a body over the app's limit 413, a wrong method 405; a good hop's answer as PlainTextResponse sent it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from core.i18n import translate
from tests.e2e.ussd.conftest import TOKEN

URL = f"/ussd/{TOKEN}"
FORM = {
    "sessionId": "ATUid_bad_1",
    "serviceCode": "*483*1#",
    "phoneNumber": "+254712345678",
    "networkCode": "63902",
}
GENERIC_END = "END " + translate("error.generic", "en")


async def test_a_good_hop_answers_plain_text_with_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, data={**FORM, "text": ""})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["x-request-id"]
    assert response.text.startswith("CON ")
    given = await client.post(URL, data={**FORM, "text": ""}, headers={"X-Request-Id": "at-retry-0001"})
    assert given.headers["x-request-id"] == "at-retry-0001"
    assert given.text == response.text  # a repeated hop: the same answer


async def test_other_content_types_end_with_the_generic_error(client: httpx.AsyncClient) -> None:
    for content_type, body in (
        ("text/plain", b"sessionId=x&phoneNumber=%2B254712345678&text="),
        ("application/json", b'{"sessionId": "x", "phoneNumber": "+254712345678"}'),
        ("", b"sessionId=x&phoneNumber=%2B254712345678"),
    ):
        response = await client.post(URL, content=body, headers={"Content-Type": content_type})
        assert (response.status_code, response.text) == (200, GENERIC_END), content_type


async def test_a_multipart_form_is_read(client: httpx.AsyncClient) -> None:
    fields = {**FORM, "sessionId": "ATUid_bad_multipart", "text": ""}
    response = await client.post(URL, data=fields, files={"note": ("n.txt", b"ignored")})
    assert response.status_code == 200 and response.text.startswith("CON "), response.text


async def test_missing_or_unreadable_fields(client: httpx.AsyncClient) -> None:
    for form in ({"phoneNumber": "+254712345678", "text": ""}, {"sessionId": "x", "text": ""}, {}):
        response = await client.post(URL, data=form)
        assert (response.status_code, response.text) == (200, GENERIC_END), form
    too_many = "&".join(f"f{i}=1" for i in range(200))
    response = await client.post(
        URL, content=too_many.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (response.status_code, response.text) == (200, GENERIC_END)


async def test_bad_encodings_never_fail(client: httpx.AsyncClient) -> None:
    for n, text in enumerate((b"%FF%FE", b"%", b"1%2", b"\xff\xfe", b"%C3%A9*%2A+", b"\x00")):
        body = b"sessionId=ATUid_bad_enc_%d&phoneNumber=%%2B254712345678&text=" % n + text
        response = await client.post(
            URL, content=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"}
        )
        assert response.status_code == 200 and response.text.startswith(("CON ", "END ")), (
            text,
            response.text,
        )


async def test_a_body_in_chunks_is_read_whole(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"sessionId=ATUid_bad_chunks&serviceCode=%2A483%2A1%23"
        yield b"&phoneNumber=%2B254712345678&text="

    response = await client.post(
        URL, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200 and response.text.startswith("CON "), response.text


async def test_oversized_bodies_and_wrong_methods(client: httpx.AsyncClient) -> None:
    big = b"sessionId=x&phoneNumber=1&text=" + b"1" * (1024 * 1024 + 1)
    response = await client.post(
        URL, content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert (await client.get(URL)).status_code == 405
    assert (await client.post("/ussd/not-the-token", data=FORM)).status_code == 403
