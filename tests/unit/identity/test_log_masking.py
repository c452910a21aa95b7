from __future__ import annotations

import io
import json
import logging

import structlog
from hypothesis import given
from hypothesis import strategies as st

from core.logging import _PATTERNS, bind_request_id, clear_request, configure_logging, mask_text


def without_timestamp(event: dict[str, object]) -> str:
    """The event as text minus its timestamp, whose microseconds hold any 4 digits by chance."""
    return json.dumps({key: value for key, value in event.items() if key != "timestamp"})


def test_mask_text_patterns() -> None:
    text = "call +254712345678 or 0712 345 678; key kbt_live_abc_def; Bearer abc.def.ghi"
    masked = mask_text(text)
    assert "345678" not in masked and "345 678" not in masked
    assert "kbt_live_abc_def" not in masked
    assert "abc.def.ghi" not in masked


def test_structlog_and_stdlib_lines_are_masked_json() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, level="DEBUG")
    try:
        bind_request_id("req-1")
        log = structlog.get_logger("kibeti.test")
        log.info(
            "customer registered +254712345678",
            phone="+254712345678",
            pin="4821",
            national_id="23456789",
            refresh_token="kbt_rt_secretvalue",
            details={"otp": "123456", "note": "0712345678"},
        )
        # a plain stdlib logger (uvicorn.access itself may be reconfigured by servers other tests start)
        logging.getLogger("kibeti.test.stdlib").info("GET /api?phone=%s", "+254712345678")
    finally:
        clear_request()
        logging.getLogger().handlers = [
            h for h in logging.getLogger().handlers if h.get_name() != "kibeti-json"
        ]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    assert lines[0]["request_id"] == "req-1"
    raw = "\n".join(without_timestamp(line) for line in lines)
    for secret in ("712345678", "4821", "23456789", "kbt_rt_secretvalue", "123456"):
        assert secret not in raw


_FRAGMENTS = st.sampled_from(
    [
        "+254712345678",
        "0712 345 678",
        "254-112-345-678",
        "Bearer abc.def",
        "bAsIc xyz",
        "eyJhbGciOi.eyJzdWIi.sig",
        "kbt_live_abc",
        "kbt-env:v1:a:b",
        "xprv" + "9" * 24,
        "12345",
        " ",
        "-",
        "+",
        "K",
        "ſ",
        "text",
    ]
)


@given(st.lists(_FRAGMENTS | st.text(max_size=6), max_size=8).map("".join))
def test_the_one_pass_check_never_skips_a_string_a_pattern_would_change(text: str) -> None:
    expected = text
    for pattern, replacement in _PATTERNS:
        expected = pattern.sub(replacement, expected)
    assert mask_text(text) == expected


def test_other_handlers_get_the_structlog_event_already_masked() -> None:
    """Masking is the end of the structlog chain, not only of our formatter."""
    stream = io.StringIO()
    configure_logging(stream=stream, level="DEBUG")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)
    try:
        structlog.get_logger("kibeti.test").info("sent to 0712345678", phone="+254712345678", pin="4821")
    finally:
        logging.getLogger().handlers = [
            h for h in logging.getLogger().handlers if h.get_name() != "kibeti-json" and h is not keep
        ]
    assert len(seen) == 1
    event = seen[0].msg
    assert isinstance(event, dict)
    assert "345678" not in without_timestamp(event) and "4821" not in without_timestamp(event)
    [rendered] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "345678" not in without_timestamp(rendered) and "4821" not in without_timestamp(rendered)


def test_secrets_written_as_key_value_in_a_message_are_masked() -> None:
    from core.logging import mask_text

    text = mask_text("failed for pin=7391, national_id: 31234567 otp=483920 token=abc123 (retry)")
    for secret in ("7391", "31234567", "483920", "abc123"):
        assert secret not in text
    assert "(retry)" in text and "failed for" in text
