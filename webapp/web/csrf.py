"""CSRF tokens: an HMAC of the session id, in a hidden field of every form (`csrf_token`) or the
`X-CSRF-Token` header. A new session id at sign-in means a new token; a post without the right
token is refused before the route runs."""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def token_for(sid: str, *, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"kibeti-csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def is_valid(sid: str, given: str | None, *, secret_key: str) -> bool:
    if not given:
        return False
    expected = token_for(sid, secret_key=secret_key).encode()
    return hmac.compare_digest(expected, str(given).encode("utf-8", "surrogatepass"))
