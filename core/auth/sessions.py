"""Staff sessions: rotating refresh tokens with family reuse detection, logout and revocation.

A session is one login; its refresh tokens form a family. Each refresh consumes the presented token
and issues the next one. Presenting a consumed token again means it was stolen (or replayed): the
whole family is revoked, which also invalidates its access tokens (they carry the session id).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth import tokens
from core.auth.errors import RefreshReused, TokenInvalid
from core.auth.models import RefreshToken, StaffSession, StaffUser
from core.auth.types import SignedInStaff
from core.clock import Clock

log = structlog.get_logger(__name__)
REFRESH_TTL = timedelta(hours=8)
SESSION_MAX_AGE = timedelta(hours=12)
REFRESH_PREFIX = "kbt_rt_"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds, for the access token
    session_id: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start(*, session: AsyncSession, staff: StaffUser, clock: Clock, secret_key: str) -> TokenPair:
    now = clock.now()
    family = StaffSession(
        id=secrets.token_hex(16), staff_id=staff.id, created_at=now, expires_at=now + SESSION_MAX_AGE
    )
    session.add(family)
    await session.flush()
    return await _issue(session=session, staff=staff, family=family, clock=clock, secret_key=secret_key)


async def _issue(
    *, session: AsyncSession, staff: StaffUser, family: StaffSession, clock: Clock, secret_key: str
) -> TokenPair:
    now = clock.now()
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    expires_at = min(now + REFRESH_TTL, family.expires_at)
    session.add(
        RefreshToken(token_hash=_hash(refresh), session_id=family.id, issued_at=now, expires_at=expires_at)
    )
    await session.flush()
    access = tokens.encode_access(
        staff_id=staff.id, role=staff.role, session_id=family.id, secret_key=secret_key, now=now
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(tokens.ACCESS_TTL.total_seconds()),
        session_id=family.id,
    )


async def refresh(*, session: AsyncSession, refresh_token: str, clock: Clock, secret_key: str) -> TokenPair:
    """Rotate: consume `refresh_token`, return a new pair. Reuse revokes the family (RefreshReused).

    On RefreshReused the caller must commit (the revocation is the point).
    """
    now = clock.now()
    row = (
        await session.execute(select(RefreshToken).where(RefreshToken.token_hash == _hash(refresh_token)))
    ).scalar_one_or_none()
    if row is None:
        raise TokenInvalid("unknown refresh token")
    family = await session.get(StaffSession, row.session_id)
    if family is None or family.revoked_at is not None or family.expires_at <= now:
        raise TokenInvalid("session ended")
    consumed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        await _revoke(session=session, family=family, clock=clock, reason="refresh_reuse")
        log.warning("refresh_token_reused", staff_id=family.staff_id, staff_session=family.id)
        await audit.record(
            session=session,
            actor=f"staff:{family.staff_id}",
            action="staff.refresh_reuse",
            subject=f"staff:{family.staff_id}",
            details={"session": family.id},
        )
        raise RefreshReused("refresh token reused: all tokens of this login are revoked")
    if row.expires_at <= now:
        raise TokenInvalid("refresh token expired")
    staff = await session.get(StaffUser, family.staff_id)
    if staff is None or not staff.active:
        raise TokenInvalid("staff user disabled")
    return await _issue(session=session, staff=staff, family=family, clock=clock, secret_key=secret_key)


async def _revoke(*, session: AsyncSession, family: StaffSession, clock: Clock, reason: str) -> None:
    if family.revoked_at is None:
        family.revoked_at, family.revoked_reason = clock.now(), reason
        await session.flush()


async def logout(*, session: AsyncSession, session_id: str, clock: Clock) -> None:
    family = await session.get(StaffSession, session_id)
    if family is not None:
        await _revoke(session=session, family=family, clock=clock, reason="logout")
        await audit.record(
            session=session,
            actor=f"staff:{family.staff_id}",
            action="staff.logout",
            subject=f"staff:{family.staff_id}",
        )


async def revoke_all(*, session: AsyncSession, staff_id: int, clock: Clock, reason: str) -> int:
    rows = await session.execute(
        select(StaffSession).where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
    )
    families = list(rows.scalars().all())
    for family in families:
        await _revoke(session=session, family=family, clock=clock, reason=reason)
    return len(families)


async def authenticate(
    *, session: AsyncSession, access_token: str, secret_key: str, clock: Clock
) -> SignedInStaff:
    """The staff user behind a valid access token whose session is live. Raises TokenInvalid."""
    claims = tokens.decode_access(access_token, secret_key=secret_key, clock=clock)
    family = await session.get(StaffSession, claims.session_id)
    if family is None or family.revoked_at is not None or family.staff_id != claims.staff_id:
        raise TokenInvalid("session ended")
    staff = await session.get(StaffUser, claims.staff_id)
    if staff is None or not staff.active:
        raise TokenInvalid("staff user disabled")
    return SignedInStaff(id=staff.id, email=staff.email, role=staff.role)


async def signed_in_staff(*, session: AsyncSession, session_id: str, now: datetime) -> SignedInStaff | None:
    """The active staff user of a live, unexpired session (a portal's signed-in cookie), else None."""
    family = await session.get(StaffSession, session_id)
    if family is None or family.revoked_at is not None or family.expires_at <= now:
        return None
    staff = await session.get(StaffUser, family.staff_id)
    if staff is None or not staff.active:
        return None
    return SignedInStaff(id=staff.id, email=staff.email, role=staff.role)
