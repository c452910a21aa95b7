"""Telegram webhook authentication: the X-Telegram-Bot-Api-Secret-Token header."""

from __future__ import annotations

from core.security.compare import equals

HEADER = "X-Telegram-Bot-Api-Secret-Token"


def check_secret_token(header_value: str | None, expected: str) -> bool:
    """True only when a secret is configured and the header matches it (constant time)."""
    return equals(header_value, expected)
