"""JWT access tokens: HS256 only (algorithm pinned), at most 15 minutes, checked against a Clock."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from core.auth.errors import TokenInvalid
from core.clock import Clock

ALGORITHM = "HS256"
ISSUER = "kibeti"
AUDIENCE = "kibeti-staff"
ACCESS_TTL = timedelta(minutes=10)
MAX_ACCESS_TTL = timedelta(minutes=15)
_REQUIRED = ["exp", "iat", "sub", "sid", "jti", "iss", "aud"]


@dataclass(frozen=True)
class AccessClaims:
    staff_id: int
    role: str
    session_id: str
    expires_at: datetime


def encode_access(*, staff_id: int, role: str, session_id: str, secret_key: str, now: datetime) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(staff_id),
        "role": role,
        "sid": session_id,
        "typ": "access",
        "jti": secrets.token_hex(8),
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TTL).timestamp()),
    }
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def decode_access(token: str, *, secret_key: str, clock: Clock) -> AccessClaims:
    """Verify signature (HS256 only), issuer, audience, type and lifetime; raise TokenInvalid."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenInvalid("unexpected token algorithm")
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid("invalid token") from exc
    now = int(clock.now().timestamp())
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int) or not isinstance(iat, int) or claims.get("typ") != "access":
        raise TokenInvalid("invalid token claims")
    if exp <= now or iat > now + 60 or exp - iat > MAX_ACCESS_TTL.total_seconds():
        raise TokenInvalid("token expired")
    try:
        staff_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise TokenInvalid("invalid token subject") from exc
    expires_at = datetime.fromtimestamp(exp, tz=clock.now().tzinfo)
    return AccessClaims(
        staff_id=staff_id,
        role=str(claims.get("role", "")),
        session_id=str(claims["sid"]),
        expires_at=expires_at,
    )
