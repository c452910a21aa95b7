"""One-time codes (Telegram linking, portal login, PIN reset): 6 digits, hashed at rest (Argon2id),
valid 5 minutes, single use, at most 5 attempts, at most 5 issued per number per hour, delivered
through core's Notifier port. The code itself is never stored or logged, nor queued in clear: a
notifier that can seal it (`SecretSmsNotifier`) renders it into the text only when sending.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.identity.errors import OtpExpired, OtpInvalid, OtpTooManyRequests
from core.identity.models import CustomerOtp
from core.identity.phone import normalize_phone
from core.ports import SECRET_PLACEHOLDER, Notifier, SecretSmsNotifier
from core.ratelimit import OTP_SEND_PER_PHONE, OTP_VERIFY_PER_PHONE, RateLimiter, count_phone, phone_blocked
from core.security.hashing import hash_secret, verify_secret

OTP_DIGITS = 6
OTP_TTL = timedelta(minutes=5)
MAX_ATTEMPTS = 5
MAX_ISSUED_PER_HOUR = 5
log = structlog.get_logger(__name__)
PURPOSES = frozenset({"telegram_link", "portal_login", "pin_reset"})

_TEXTS = {
    "en": "Your Kibeti code is {code}. It expires in 5 minutes. Never share it, not even with Kibeti staff.",
    "sw": (
        "Nambari yako ya Kibeti ni {code}. Itaisha baada ya dakika 5. "
        "Usimpe mtu yeyote, hata wafanyakazi wa Kibeti."
    ),
}


def _new_code() -> str:
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


async def issue_otp(
    *,
    session: AsyncSession,
    notifier: Notifier,
    limiter: RateLimiter | None,
    phone: str,
    purpose: str,
    clock: Clock,
    language: str = "en",
) -> CustomerOtp:
    """Create a code, send it by SMS and return the (hashed) row. Earlier codes for the purpose die.

    `limiter` (the runtime's) counts the request against the number's limit on every channel; None
    leaves only the codes-per-hour cap read from this database."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown OTP purpose {purpose}")
    e164 = normalize_phone(phone)
    now = clock.now()
    recent = (
        await session.execute(
            select(func.count(), func.min(CustomerOtp.created_at)).where(
                CustomerOtp.phone == e164, CustomerOtp.created_at > now - timedelta(hours=1)
            )
        )
    ).one()
    if recent[0] >= MAX_ISSUED_PER_HOUR:
        retry_after = max(1, int((recent[1] + timedelta(hours=1) - now).total_seconds()))
        raise OtpTooManyRequests(retry_after=retry_after)
    retry = await count_phone(limiter, OTP_SEND_PER_PHONE, e164)  # shared by every channel, not per session
    if retry:
        raise OtpTooManyRequests(retry_after=retry)
    for old in await _live(session=session, phone=e164, purpose=purpose, clock=clock):
        old.consumed_at = now
    code = _new_code()
    row = CustomerOtp(
        reference=secrets.token_hex(16),
        phone=e164,
        purpose=purpose,
        code_hash=await asyncio.to_thread(hash_secret, code),  # Argon2id off the loop (see pin.py)
        attempts=0,
        created_at=now,
        expires_at=now + OTP_TTL,
    )
    session.add(row)
    await session.flush()
    template = _TEXTS.get(language, _TEXTS["en"])
    reference = f"otp:{row.reference}"
    if isinstance(notifier, SecretSmsNotifier):  # the code is sealed in the queue, put in at send time
        await notifier.send_secret_sms(  # in this transaction: a second session deadlocks SQLite
            phone=e164,
            text=template.format(code=SECRET_PLACEHOLDER),
            secret=code,
            reference=reference,
            session=session,
        )
    else:
        await notifier.send_sms(phone=e164, text=template.format(code=code), reference=reference)
    log.info("otp_issued", phone=e164, purpose=purpose, record_id=row.id)
    return row


async def _live(*, session: AsyncSession, phone: str, purpose: str, clock: Clock) -> list[CustomerOtp]:
    rows = await session.execute(
        select(CustomerOtp)
        .where(CustomerOtp.phone == phone, CustomerOtp.purpose == purpose, CustomerOtp.consumed_at.is_(None))
        .order_by(CustomerOtp.created_at.desc(), CustomerOtp.id.desc())
    )
    return list(rows.scalars().all())


async def verify_otp(
    *, session: AsyncSession, limiter: RateLimiter | None, phone: str, purpose: str, code: str, clock: Clock
) -> None:
    """Consume the newest live code for (phone, purpose) if `code` matches.

    `limiter` (the runtime's) holds the number's wrong codes across codes and channels; None leaves
    only the attempts counted on the code's row.

    Raises OtpExpired (none live, expired, used or out of attempts) or OtpInvalid (attempts_left).
    A wrong or malformed code counts as an attempt; the caller commits in its error path too.
    """
    e164 = normalize_phone(phone)
    now = clock.now()
    live = await _live(session=session, phone=e164, purpose=purpose, clock=clock)
    if not live:
        raise OtpExpired("no active code: request a new one")
    row = live[0]
    if row.expires_at <= now or row.attempts >= MAX_ATTEMPTS:
        row.consumed_at = now
        await session.flush()
        raise OtpExpired("the code has expired: request a new one")
    blocked = await phone_blocked(
        limiter, OTP_VERIFY_PER_PHONE, e164
    )  # wrong codes across codes and channels
    if blocked:
        raise OtpTooManyRequests(retry_after=blocked)
    well_formed = len(code) == OTP_DIGITS and code.isascii() and code.isdigit()
    if well_formed and await asyncio.to_thread(verify_secret, row.code_hash, code):
        row.consumed_at = now
        await session.flush()
        return
    row.attempts += 1
    await count_phone(limiter, OTP_VERIFY_PER_PHONE, e164)
    log.warning("otp_failed", phone=e164, purpose=purpose, attempts=row.attempts)
    if row.attempts >= MAX_ATTEMPTS:
        row.consumed_at = now
    await session.flush()
    raise OtpInvalid(attempts_left=MAX_ATTEMPTS - row.attempts)
