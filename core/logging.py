"""Structured JSON logs (structlog) with a request id, and masking of personal data and secrets.

Values under sensitive keys (PINs, OTPs, passwords, tokens, keys, national IDs) are dropped;
phone numbers are masked by key and wherever they appear inside strings, as are JWTs, API keys,
refresh tokens, envelopes and bearer credentials. Standard-library logging (uvicorn, SQLAlchemy,
httpx) is routed through the same processors.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import IO, Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"

_DROP_KEYS = (
    "pin",
    "otp",
    "password",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "totp",
    "national_id",
    "id_number",
    "idnumber",
    "private_key",
    "seed",
    "mnemonic",
    "xprv",
    "cookie",
    "credential",
)
_EXACT_DROP = frozenset({"code", "key", "passkey", "signature"})
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "gunicorn.error")
_PHONE_KEYS = ("phone", "msisdn", "mobile", "phonenumber", "phone_number", "sender", "recipient")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[JWT]"),
    (re.compile(r"kbt_(?:live|test|rt)_[A-Za-z0-9_-]+"), "[KEY]"),
    (re.compile(r"kbt-env:v1:[A-Za-z0-9:_-]+"), "[ENVELOPE]"),
    (re.compile(r"(?i:\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+)"), r"\1 [REDACTED]"),
    (re.compile(r"(?<![\d+])\+?254[\s-]?([17]\d{2})[\s-]?\d{3}[\s-]?(\d{3})(?!\d)"), r"+254\1***\2"),
    (re.compile(r"(?<![\d+])0([17]\d{2})[\s-]?\d{3}[\s-]?(\d{3})(?!\d)"), r"0\1***\2"),
    (re.compile(r"\b(xprv|tprv|zprv)[1-9A-HJ-NP-Za-km-z]{20,}"), "[XPRV]"),
    # a secret written into a message as key=value (an exception text, a formatted string)
    (
        re.compile(
            r"(?i:\b(pin|otp|password|passphrase|national_id|id_number|secret|token)\s*[=:]\s*)[^\s,;)]+"
        ),
        r"\1=[REDACTED]",
    ),
]
# Any of the patterns, in one pass: most strings hold none, and then none of the substitutions
# can change them (the per-pattern passes are for the few that do). Flags inside the patterns
# are scoped, `(?i:...)`, so that they can be joined.
_ANY_PATTERN = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in _PATTERNS))
# Left alone: ProcessorFormatter's own bookkeeping (the LogRecord), removed before rendering.
_META_KEYS = frozenset({"_record", "_from_structlog"})
_PLAIN, _DROP, _PHONE = 0, 1, 2


@functools.lru_cache(maxsize=4096)  # keys come from code, so they are few; bounded all the same
def _key_kind(key: str) -> int:
    lowered = key.lower()
    if lowered in _EXACT_DROP or any(word in lowered for word in _DROP_KEYS):
        return _DROP
    if any(word in lowered for word in _PHONE_KEYS):
        return _PHONE
    return _PLAIN


def mask_text(text: str) -> str:
    if _ANY_PATTERN.search(text) is None:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _mask_phone(value: Any) -> str:
    text = str(value)
    if "***" in text:  # already masked (e.g. by `masked()` before it was logged)
        return text
    digits = re.sub(r"\D", "", text)
    return f"{text[:4]}***{digits[-3:]}" if len(digits) >= 7 else "***"


def mask_value(key: str, value: Any) -> Any:
    kind = _key_kind(key)
    if kind == _DROP:
        return REDACTED
    if kind == _PHONE and value is not None and not isinstance(value, Mapping | list | tuple):
        return _mask_phone(value)
    return _mask_any(value)


def _mask_any(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_mask_any(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return mask_text(str(value))


def mask_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask every field of the event (including the message)."""
    return {key: value if key in _META_KEYS else mask_value(key, value) for key, value in event_dict.items()}


def _stdlib_args_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    if record is not None and "event" not in event_dict:
        event_dict["event"] = record.getMessage()
    return event_dict


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_processor,
    ]


def configure_logging(*, level: str = "INFO", stream: IO[str] | None = None) -> None:
    """JSON lines on `stream` (stdout) for both structlog and the standard library."""
    output = stream or sys.stdout
    processors = shared_processors()
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    # Each event is masked once, as the last step before it leaves its chain: structlog events in
    # `processors` (so any handler gets the masked dict), standard-library records in
    # `foreign_pre_chain`. The formatter adds nothing that would need masking again.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[_stdlib_args_processor, *processors],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(output)
    handler.setFormatter(formatter)
    handler.set_name("kibeti-json")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "kibeti-json":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn configures its own plain-text handlers before it imports the app: its "Exception in
    # ASGI application" tracebacks (every 500, with the exception's text) went out unmasked.
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        for existing in list(server_logger.handlers):
            server_logger.removeHandler(existing)
        server_logger.propagate = True
    for chatty in ("httpx", "httpcore"):  # they log whole URLs, and callback URLs carry secret tokens
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))


def bind_request_id(request_id: str) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)


def clear_request() -> None:
    structlog.contextvars.clear_contextvars()


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def masked(fields: MutableMapping[str, Any]) -> dict[str, Any]:
    """Mask a mapping for places that log outside structlog (e.g. error reports)."""
    return {key: mask_value(key, value) for key, value in fields.items()}
