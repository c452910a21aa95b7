"""Invite, sign in (password + TOTP, lockout as for staff), look up and end dashboard sessions.
Keyword-only; the caller commits (a failed sign-in too: its counters must stay)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.service import BASE_LOCKOUT, MAX_FAILED_LOGINS, MAX_LOCKOUT, TOTP_ISSUER, totp_step
from core.clock import Clock
from core.merchant_users.errors import (
    InvalidMerchantRole,
    MerchantSignInFailed,
    MerchantUserExists,
    MerchantUserLocked,
)
from core.merchant_users.models import MerchantRole, MerchantSession, MerchantUser
from core.merchants import service as merchants
from core.merchants.models import Merchant
from core.security import envelope
from core.security.envelope import Keyring
from core.security.hashing import hash_secret, verify_dummy, verify_secret
from core.security.rehash import upgrade_hash

TOTP_CONTEXT = "merchant-user-totp"
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Invitation:
    user: MerchantUser
    password: str  # the first password and the authenticator URI are shown once, never stored in clear
    provisioning_uri: str


async def invite(
    *,
    session: AsyncSession,
    merchant_id: int,
    email: str,
    role: str,
    keyring: Keyring,
    clock: Clock,
    actor: str,
) -> Invitation:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValueError("a merchant user's email address is required")
    if role not in {r.value for r in MerchantRole}:
        raise InvalidMerchantRole("role must be owner or viewer")
    await merchants.get_merchant(session=session, merchant_id=merchant_id)  # an unknown merchant raises
    if await by_email(session=session, email=email) is not None:
        raise MerchantUserExists("a merchant user with this email exists")
    password = secrets.token_urlsafe(12)
    secret = pyotp.random_base32()
    user = MerchantUser(
        merchant_id=merchant_id, email=email, role=role,
        password_hash=await asyncio.to_thread(hash_secret, password),
        totp_secret=envelope.seal(secret, keyring=keyring, context=TOTP_CONTEXT),
        last_totp_step=0, active=True, failed_logins=0, created_at=clock.now(), created_by=actor,
    )  # fmt: skip
    session.add(user)
    await session.flush()
    await audit.record(
        session=session, actor=actor, action="merchant_user.invited", subject=f"merchant:{merchant_id}",
        details={"user_id": user.id, "role": role},
    )  # fmt: skip
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)
    return Invitation(user=user, password=password, provisioning_uri=uri)


async def by_email(*, session: AsyncSession, email: str) -> MerchantUser | None:
    return (
        await session.execute(select(MerchantUser).where(MerchantUser.email == email.strip().lower()))
    ).scalar_one_or_none()


async def sign_in(
    *, session: AsyncSession, email: str, password: str, code: str, keyring: Keyring, now: datetime
) -> MerchantSession:
    user = await by_email(session=session, email=email)
    if user is None or not user.active:
        await asyncio.to_thread(verify_dummy, password)  # the same time as a real check
        raise MerchantSignInFailed("wrong email, password or code")
    if user.locked_until is not None and user.locked_until > now:
        await asyncio.to_thread(verify_dummy, password)
        raise MerchantUserLocked(retry_after=max(1, int((user.locked_until - now).total_seconds())))
    step = None
    if await asyncio.to_thread(verify_secret, user.password_hash, password[:256]):
        secret = envelope.open(user.totp_secret, keyring=keyring, context=TOTP_CONTEXT).decode()
        step = totp_step(secret, code.strip(), now)
    if step is None or step <= user.last_totp_step:  # a code is used once
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            exponent = min(user.failed_logins - MAX_FAILED_LOGINS, 10)
            user.locked_until = now + min(BASE_LOCKOUT * int(2**exponent), MAX_LOCKOUT)
        await session.flush()
        raise MerchantSignInFailed("wrong email, password or code")
    user.failed_logins, user.locked_until, user.last_totp_step, user.last_login_at = 0, None, step, now
    row = MerchantSession(
        id=secrets.token_urlsafe(32), user_id=user.id, created_at=now, expires_at=now + SESSION_LIFETIME
    )
    session.add(row)
    await session.flush()
    await upgrade_hash(  # older Argon2 parameters: rehashed in this sign-in's transaction
        session=session, row=user, column=MerchantUser.password_hash, secret=password[:256]
    )
    await audit.record(
        session=session, actor=f"merchant_user:{user.id}", action="merchant_user.signed_in",
        subject=f"merchant:{user.merchant_id}",
    )  # fmt: skip
    return row


async def current(
    *, session: AsyncSession, session_id: str, now: datetime
) -> tuple[MerchantUser, Merchant] | None:
    """The user and merchant behind a live session; None when revoked, expired or disabled."""
    row = await session.get(MerchantSession, session_id)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = await session.get(MerchantUser, row.user_id)
    if user is None or not user.active:
        return None
    merchant = await session.get(Merchant, user.merchant_id)
    if merchant is None:
        return None
    return user, merchant


async def sign_out(*, session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(MerchantSession)
        .where(MerchantSession.id == session_id, MerchantSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def list_users(*, session: AsyncSession, merchant_id: int) -> list[MerchantUser]:
    query = select(MerchantUser).where(MerchantUser.merchant_id == merchant_id).order_by(MerchantUser.id)
    return list((await session.scalars(query)).all())
