from __future__ import annotations

import io
import json
import logging

import structlog

from core.logging import bind_request_id, clear_request, configure_logging, mask_text


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
    raw = stream.getvalue()
    for secret in ("712345678", "4821", "23456789", "kbt_rt_secretvalue", "123456"):
        assert secret not in raw
