"""The hop's own urlencoded form decoding gives what Starlette's form parser gives."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from channels.ussd.router import MAX_FORM_FIELDS, _form


def _request(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/ussd/x",
        "headers": [(b"content-type", content_type.encode())],
    }
    return Request(scope, receive)


def _both(body: bytes) -> tuple[dict[str, object], dict[str, object]]:
    async def parse() -> tuple[dict[str, object], dict[str, object]]:
        return dict(await _form(_request(body))), dict(await _request(body).form())

    return asyncio.run(parse())


_PIECES = st.sampled_from(
    [
        "sessionId",
        "text",
        "=",
        "&",
        "+",
        "%2A",
        "%2B254",
        "%",
        "%4",
        "%C3%A9",
        "%FF",
        ";",
        "*",
        "1",
        "é",
        "\x00",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=4), max_size=12).map("".join))
def test_the_same_fields_as_starlette(text: str) -> None:
    ours, starlette = _both(text.encode("utf-8"))
    assert ours == starlette


def test_an_africas_talking_hop() -> None:
    body = b"sessionId=ATUid_1&serviceCode=%2A483%2A1%23&phoneNumber=%2B254712345678&networkCode=63902&text=1%2A5"
    ours, starlette = _both(body)
    assert ours == starlette
    assert ours["phoneNumber"] == "+254712345678" and ours["text"] == "1*5"


def test_too_many_fields_are_refused() -> None:
    body = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS + 1)).encode()
    with pytest.raises(ValueError):
        asyncio.run(_form(_request(body)))


def test_another_content_type_goes_through_starlette() -> None:
    assert dict(asyncio.run(_form(_request(b"text=1", "text/plain")))) == {}
