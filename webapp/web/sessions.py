"""Signed session cookies bound to a server-side session row.

The cookie carries `sid` (the id of a server-side session row the portal owns: a staff login's
`staff_sessions` row, a customer's device session), the language, when it was issued and when it
was last used, all under an HMAC of the app's secret key. A portal's loader checks the row on every
request (revoked, expired, user disabled). Signing in always starts a new `sid` (no fixation);
a cookie idle for longer than the policy's idle timeout is refused by its own signed timestamp.
An anonymous visitor gets an anonymous cookie (`sid` "anon:<random>") so the sign-in form has a
CSRF token too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

ANONYMOUS = "anon:"


@dataclass(frozen=True)
class CookiePolicy:
    """How one portal's cookie behaves: staff 15 min idle, customer device sessions 30 days."""

    name: str
    path: str
    idle: timedelta
    max_age: timedelta
    secure: bool

    @property
    def purpose(self) -> bytes:
        return f"kibeti-web-session:{self.name}".encode()


@dataclass(frozen=True)
class WebSession:
    sid: str
    language: str
    issued: int  # unix seconds
    seen: int

    @property
    def anonymous(self) -> bool:
        return self.sid.startswith(ANONYMOUS)

    def touched(self, now: datetime) -> WebSession:
        return replace(self, seen=int(now.timestamp()))


def new_anonymous(now: datetime, language: str = "en") -> WebSession:
    stamp = int(now.timestamp())
    return WebSession(sid=ANONYMOUS + secrets.token_urlsafe(18), language=language, issued=stamp, seen=stamp)


def new_signed_in(sid: str, now: datetime, language: str) -> WebSession:
    stamp = int(now.timestamp())
    return WebSession(sid=sid, language=language, issued=stamp, seen=stamp)


def _key(secret_key: str, policy: CookiePolicy) -> bytes:
    return hmac.new(secret_key.encode(), policy.purpose, hashlib.sha256).digest()


def encode(session: WebSession, *, secret_key: str, policy: CookiePolicy) -> str:
    body = json.dumps([session.sid, session.language, session.issued, session.seen], separators=(",", ":"))
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    mac = hmac.new(_key(secret_key, policy), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def decode(value: str, *, secret_key: str, policy: CookiePolicy) -> WebSession | None:
    """The cookie's session when its signature is right, else None (never an exception)."""
    payload, _, mac = value.partition(".")
    try:
        expected = hmac.new(_key(secret_key, policy), payload.encode(), hashlib.sha256).hexdigest()
        if not mac or not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
    except UnicodeEncodeError:
        return None
    try:
        sid, language, issued, seen = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
    except (ValueError, TypeError):
        return None
    if not (isinstance(sid, str) and isinstance(language, str) and isinstance(issued, int)):
        return None
    if not isinstance(seen, int):
        return None
    return WebSession(sid=sid, language=language, issued=issued, seen=seen)


def is_fresh(session: WebSession, *, now: datetime, policy: CookiePolicy) -> bool:
    """Not idle longer than the policy allows and not older than its maximum age."""
    stamp = now.timestamp()
    return stamp - session.seen <= policy.idle.total_seconds() and (
        stamp - session.issued <= policy.max_age.total_seconds()
    )


def read(request: Request, *, secret_key: str, policy: CookiePolicy) -> WebSession | None:
    value = request.cookies.get(policy.name)
    return decode(value, secret_key=secret_key, policy=policy) if value else None


def write(response: Response, session: WebSession, *, secret_key: str, policy: CookiePolicy) -> None:
    response.set_cookie(
        policy.name,
        encode(session, secret_key=secret_key, policy=policy),
        max_age=int(policy.max_age.total_seconds()),
        path=policy.path,
        httponly=True,
        samesite="strict",
        secure=policy.secure,
    )


def clear(response: Response, *, policy: CookiePolicy) -> None:
    response.delete_cookie(
        policy.name, path=policy.path, httponly=True, samesite="strict", secure=policy.secure
    )
