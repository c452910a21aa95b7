"""Staff users: creation, password + TOTP login, and lookups. Keyword-only; the caller commits.

A failed login updates counters and then raises: commit in the error path too (the router does).
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth import sessions
from core.auth.errors import AccountLocked, InvalidEmail, InvalidRole, LoginFailed, StaffExists, WeakPassword
from core.auth.models import Role, StaffUser
from core.auth.sessions import TokenPair
from core.clock import Clock
from core.security import envelope
from core.security.envelope import Keyring
from core.security.hashing import hash_secret, verify_dummy, verify_secret
from core.security.rehash import upgrade_hash

log = structlog.get_logger(__name__)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_FAILED_LOGINS = 5
BASE_LOCKOUT = timedelta(minutes=15)
MAX_LOCKOUT = timedelta(hours=24)
TOTP_ISSUER = "Kibeti"
TOTP_STEP = 30
_TOTP_CONTEXT = "staff-totp"


@dataclass(frozen=True)
class NewStaff:
    staff: StaffUser
    provisioning_uri: str  # shown once, never stored in clear


def _check_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a staff password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < 6 or email.split("@")[0].lower() in password.lower():
        raise WeakPassword("that password is too easy to guess")


def check_email(email: str) -> str:
    """The address as stored (trimmed, lower case); InvalidEmail if it is not one."""
    email = email.strip().lower()
    local, _, domain = email.rpartition("@")
    if not local or not domain:
        raise InvalidEmail("a staff email address is required")
    return email


async def create_staff(
    *, session: AsyncSession, email: str, role: str, password: str, keyring: Keyring, clock: Clock, actor: str
) -> NewStaff:
    email = check_email(email)
    try:
        role = Role(role).value
    except ValueError as exc:
        raise InvalidRole(f"role must be one of {', '.join(r.value for r in Role)}") from exc
    _check_password(password, email)
    if await get_staff_by_email(session=session, email=email) is not None:
        raise StaffExists("a staff user with this email exists")
    secret = pyotp.random_base32()
    staff = StaffUser(
        email=email,
        role=role,
        password_hash=await asyncio.to_thread(hash_secret, password),
        totp_secret=envelope.seal(secret, keyring=keyring, context=_TOTP_CONTEXT),
        last_totp_step=0,
        active=True,
        failed_logins=0,
        created_at=clock.now(),
    )
    session.add(staff)
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="staff.created",
        subject=f"staff:{staff.id}",
        details={"role": role},
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)
    return NewStaff(staff=staff, provisioning_uri=uri)


async def get_staff_by_email(*, session: AsyncSession, email: str) -> StaffUser | None:
    query = select(StaffUser).where(StaffUser.email == email.strip().lower())
    return (await session.execute(query)).scalar_one_or_none()


async def get_staff(*, session: AsyncSession, staff_id: int) -> StaffUser | None:
    return await session.get(StaffUser, staff_id)


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step the code belongs to (now, or one step either side), or None."""
    totp = pyotp.TOTP(secret)
    base = int(now.timestamp()) // TOTP_STEP
    for offset in (0, -1, 1):
        step = base + offset
        if hmac.compare_digest(totp.at(step * TOTP_STEP).encode(), code.encode()):
            return step
    return None


async def login(
    *,
    session: AsyncSession,
    email: str,
    password: str,
    totp_code: str,
    clock: Clock,
    secret_key: str,
    keyring: Keyring,
) -> TokenPair:
    """Password + TOTP -> a new session's tokens. Raises LoginFailed or AccountLocked."""
    now = clock.now()
    staff = await get_staff_by_email(session=session, email=email)
    if staff is None or not staff.active:
        # The time of a real check, so timing does not reveal which emails exist.
        await asyncio.to_thread(verify_dummy, password)
        await audit.record(
            session=session, actor="anonymous", action="staff.login_failed", subject="staff:unknown"
        )
        raise LoginFailed("wrong email, password or code")
    if staff.locked_until is not None and staff.locked_until > now:
        # Same time as a real check: a locked account must not answer faster than a wrong password.
        await asyncio.to_thread(verify_dummy, password)
        retry = max(1, int((staff.locked_until - now).total_seconds()))
        raise AccountLocked(retry_after=retry)
    step = None
    if await asyncio.to_thread(verify_secret, staff.password_hash, password[:MAX_PASSWORD_LENGTH]):
        secret = envelope.open(staff.totp_secret, keyring=keyring, context=_TOTP_CONTEXT).decode()
        step = totp_step(secret, totp_code.strip(), now)
    if step is None or step <= staff.last_totp_step:
        await _login_failed(session=session, staff=staff, now=now)
        raise LoginFailed("wrong email, password or code")
    staff.failed_logins, staff.locked_until = 0, None
    staff.last_totp_step, staff.last_login_at = step, now
    log.info("staff_login", staff_id=staff.id, role=staff.role)
    await session.flush()
    await upgrade_hash(  # older Argon2 parameters: rehashed in this login's transaction
        session=session, row=staff, column=StaffUser.password_hash, secret=password[:MAX_PASSWORD_LENGTH]
    )
    await audit.record(
        session=session, actor=f"staff:{staff.id}", action="staff.login", subject=f"staff:{staff.id}"
    )
    return await sessions.start(session=session, staff=staff, clock=clock, secret_key=secret_key)


async def _login_failed(*, session: AsyncSession, staff: StaffUser, now: datetime) -> None:
    staff.failed_logins += 1
    log.warning("staff_login_failed", staff_id=staff.id, failed_logins=staff.failed_logins)
    if staff.failed_logins >= MAX_FAILED_LOGINS:
        exponent = min(staff.failed_logins - MAX_FAILED_LOGINS, 10)
        lock: timedelta = BASE_LOCKOUT * int(2**exponent)
        staff.locked_until = now + min(lock, MAX_LOCKOUT)
    await session.flush()
    await audit.record(
        session=session,
        actor=f"staff:{staff.id}",
        action="staff.login_failed",
        subject=f"staff:{staff.id}",
        details={"failed_logins": staff.failed_logins},
    )


async def set_active(*, session: AsyncSession, staff_id: int, active: bool, clock: Clock, actor: str) -> None:
    staff = await get_staff(session=session, staff_id=staff_id)
    if staff is None:
        raise LoginFailed("no such staff user")
    staff.active = active
    if not active:
        await sessions.revoke_all(session=session, staff_id=staff_id, clock=clock, reason="disabled")
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="staff.active",
        subject=f"staff:{staff_id}",
        details={"active": active},
    )


async def rotate_totp_secrets(*, session: AsyncSession, keyring: Keyring) -> int:
    """Re-seal every staff TOTP secret under the keyring's current key; returns how many changed."""
    changed = 0
    for staff in (await session.execute(select(StaffUser).order_by(StaffUser.id))).scalars().all():
        if envelope.needs_rotation(staff.totp_secret, keyring=keyring):
            staff.totp_secret = envelope.rotate(staff.totp_secret, keyring=keyring, context=_TOTP_CONTEXT)
            changed += 1
    await session.flush()
    return changed
