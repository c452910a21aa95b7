"""The hop's own urlencoded form decoding (`decode_form`): whatever bytes arrive, the fields or a
clean refusal; the same fields as Starlette's form parser and urllib's parse_qsl."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from channels.ussd.router import MAX_FORM_FIELDS, FormRefused, decode_form


def _starlette(body: bytes) -> dict[str, object]:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/ussd/x",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }

    async def parse() -> dict[str, object]:
        return dict(await Request(scope, receive).form())

    return asyncio.run(parse())


def _urllib(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))


_PIECES = st.sampled_from(
    ["sessionId", "text", "=", "&", "+", "%2A", "%2a", "%2B254", "%2b", "%23", "%25", "%%", "%", "%4", "%C3%A9",
     "%FF", "%E2%2A%82", ";", "*", "1", "é", "\x00", "\x7f"]
)  # fmt: skip
_BODIES = st.lists(_PIECES | st.text(max_size=4), max_size=12).map(lambda parts: "".join(parts).encode())
_VALUES = st.lists(_PIECES | st.text(max_size=3), max_size=6).map("".join)
_PAIRS = st.lists(
    st.tuples(st.sampled_from(["sessionId", "text", "phoneNumber", "a+b", "%74ext"]), _VALUES), max_size=6
)
_FORMS = _PAIRS.map(lambda pairs: "&".join(f"{name}={value}" for name, value in pairs).encode())


@settings(max_examples=400, deadline=None)
@given(_FORMS | _BODIES | st.binary(max_size=64))
def test_the_same_fields_as_starlette_and_urllib(body: bytes) -> None:
    ours = decode_form(body)
    assert ours == _starlette(body)
    assert ours == _urllib(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.lists(_PIECES, max_size=150).map(lambda parts: "".join(parts).encode()))
def test_any_bytes_give_the_fields_or_a_clean_refusal(body: bytes) -> None:
    try:
        form = decode_form(body)
    except FormRefused:
        assert body.count(b"&") >= MAX_FORM_FIELDS
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in form.items())
    assert len(form) <= MAX_FORM_FIELDS


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=40), max_size=6))
def test_a_valid_form_round_trips(fields: dict[str, str]) -> None:
    for encoded in (urlencode(fields), urlencode(fields, safe="*#")):  # '*' escaped or not, as senders do
        assert decode_form(encoded.encode()) == fields


def test_an_africas_talking_hop() -> None:
    body = b"sessionId=ATUid_1&serviceCode=%2A483%2A1%23&phoneNumber=%2B254712345678&networkCode=63902&text=1%2A5"
    assert (
        decode_form(body)
        == _starlette(body)
        == {
            "sessionId": "ATUid_1",
            "serviceCode": "*483*1#",
            "phoneNumber": "+254712345678",
            "networkCode": "63902",
            "text": "1*5",
        }
    )


def test_too_many_fields_are_refused() -> None:
    assert len(decode_form("&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS)).encode())) == MAX_FORM_FIELDS
    with pytest.raises(FormRefused):
        decode_form("&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS + 1)).encode())
    with pytest.raises(FormRefused):
        decode_form(b"&" * MAX_FORM_FIELDS)  # empty pairs count as AT never sends them
