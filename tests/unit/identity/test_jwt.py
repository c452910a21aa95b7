from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import jwt
import pytest

from core.auth import tokens
from core.auth.errors import TokenInvalid
from core.clock import FixedClock

KEY = "unit-test-secret-key-with-enough-length-for-every-hmac-algorithm-0123456789"


def make(clock: FixedClock) -> str:
    return tokens.encode_access(staff_id=7, role="support", session_id="abc", secret_key=KEY, now=clock.now())


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_token_decodes() -> None:
    clock = FixedClock()
    claims = tokens.decode_access(make(clock), secret_key=KEY, clock=clock)
    assert (claims.staff_id, claims.role, claims.session_id) == (7, "support", "abc")


def test_lifetime_at_most_15_minutes() -> None:
    assert tokens.ACCESS_TTL <= tokens.MAX_ACCESS_TTL
    assert tokens.MAX_ACCESS_TTL.total_seconds() <= 15 * 60


def test_expired_token_rejected() -> None:
    clock = FixedClock()
    token = make(clock)
    clock.advance(seconds=tokens.ACCESS_TTL.total_seconds() + 1)
    with pytest.raises(TokenInvalid):
        tokens.decode_access(token, secret_key=KEY, clock=clock)


def test_tampered_token_rejected() -> None:
    clock = FixedClock()
    header, payload, signature = make(clock).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    with pytest.raises(TokenInvalid):
        tokens.decode_access(f"{header}.{b64(claims)}.{signature}", secret_key=KEY, clock=clock)


def test_alg_none_rejected() -> None:
    clock = FixedClock()
    now = int(clock.now().timestamp())
    claims = {
        "iss": "kibeti",
        "aud": "kibeti-staff",
        "sub": "1",
        "role": "admin",
        "sid": "x",
        "typ": "access",
        "jti": "j",
        "iat": now,
        "exp": now + 60,
    }
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    with pytest.raises(TokenInvalid):
        tokens.decode_access(unsigned, secret_key=KEY, clock=clock)


def test_other_algorithms_and_keys_rejected() -> None:
    clock = FixedClock()
    now = int(clock.now().timestamp())
    claims = {
        "iss": "kibeti",
        "aud": "kibeti-staff",
        "sub": "1",
        "sid": "x",
        "typ": "access",
        "jti": "j",
        "iat": now,
        "exp": now + 60,
    }
    with pytest.raises(TokenInvalid):
        tokens.decode_access(jwt.encode(claims, KEY, algorithm="HS512"), secret_key=KEY, clock=clock)
    with pytest.raises(TokenInvalid):
        tokens.decode_access(
            jwt.encode(claims, "another-key-of-enough-length-123", algorithm="HS256"),
            secret_key=KEY,
            clock=clock,
        )
    long_lived = dict(claims, exp=now + 3600)
    with pytest.raises(TokenInvalid):
        tokens.decode_access(jwt.encode(long_lived, KEY, algorithm="HS256"), secret_key=KEY, clock=clock)
    with pytest.raises(TokenInvalid):
        tokens.decode_access("not.a.jwt", secret_key=KEY, clock=clock)


def test_clock_is_used() -> None:
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    token = make(clock)
    assert tokens.decode_access(token, secret_key=KEY, clock=clock).staff_id == 7
