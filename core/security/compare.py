"""Constant-time comparison: every secret comparison in Kibeti goes through here."""

from __future__ import annotations

import hmac


def equals(given: str | bytes | None, expected: str | bytes | None) -> bool:
    """Compare two secrets in constant time. An empty or missing expected value never matches."""
    if not expected or given is None:
        return False
    given_b = given.encode() if isinstance(given, str) else given
    expected_b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(given_b, expected_b)
