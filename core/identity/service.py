"""Customer queries and writes. Keyword-only, `session` passed in; the caller commits.

PIN failures update counters on the customer row and then raise: commit the session in the
caller's error path too (or use `flows.check_pin`, which does it), or the lockout is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import Clock, clock_of
from core.identity import notices
from core.identity import otp as otps
from core.identity import pin as pins
from core.identity.errors import (
    CustomerBlocked,
    CustomerNotFound,
    InvalidLanguage,
    PhoneAlreadyRegistered,
    PinIncorrect,
    PinLocked,
    PinResetPending,
    WithdrawalsCoolingDown,
)
from core.identity.models import Customer, CustomerStatus, Language
from core.identity.phone import normalize_phone
from core.ports import Notifier
from core.ratelimit import (
    PIN_PER_ACCOUNT,
    REGISTER_PER_PHONE,
    RateLimited,
    RateLimiter,
    count_phone,
    phone_blocked,
)
from core.security.rehash import upgrade_hash

log = structlog.get_logger(__name__)
LANGUAGES = frozenset(language.value for language in Language)


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise InvalidLanguage("language must be 'en' or 'sw'")
    return value


def _actor(customer: Customer) -> str:
    return f"customer:{customer.id}"


async def register_customer(
    *,
    session: AsyncSession,
    phone: str,
    name: str,
    national_id: str | None,
    language: str,
    pin: str,
    clock: Clock | None = None,
    limiter: RateLimiter | None = None,
) -> Customer:
    """`limiter`: the runtime's, counting the attempt against the number on every channel (channels
    register through CoreFlows, which passes it); None for fixtures and scripts that create customers
    outright, which only the unique phone number limits."""
    e164 = normalize_phone(phone)
    retry = await count_phone(limiter, REGISTER_PER_PHONE, e164)  # every channel's attempts for the number
    if retry:
        raise RateLimited(retry_after=retry)
    pins.check_new_pin(pin, phone=e164)
    if await get_customer_by_phone(session=session, phone=e164) is not None:
        raise PhoneAlreadyRegistered("this number already has a Kibeti account")
    now = (clock or clock_of(session)).now()
    customer = Customer(
        phone=e164,
        name=name.strip(),
        national_id=(national_id or "").strip() or None,
        language=_language(language),
        kyc_tier=0,
        status=CustomerStatus.ACTIVE.value,
        pin_hash=await pins.hash_pin_in_thread(pin),
        pin_failed_count=0,
        pin_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(customer)
    await session.flush()
    await audit.record(
        session=session, actor=_actor(customer), action="customer.registered", subject=_actor(customer)
    )
    log.info("customer_registered", customer_id=customer.id, phone=e164)
    return customer


async def get_customer_by_phone(*, session: AsyncSession, phone: str) -> Customer | None:
    e164 = normalize_phone(phone)
    return (await session.execute(select(Customer).where(Customer.phone == e164))).scalar_one_or_none()


async def get_customer(*, session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id}")
    return customer


async def set_language(*, session: AsyncSession, customer_id: int, language: str) -> Customer:
    customer = await get_customer(session=session, customer_id=customer_id)
    customer.language = _language(language)
    await session.flush()
    return customer


async def set_status(*, session: AsyncSession, customer_id: int, status: str, actor: str) -> Customer:
    customer = await get_customer(session=session, customer_id=customer_id)
    customer.status = CustomerStatus(status).value
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="customer.status",
        subject=_actor(customer),
        details={"status": status},
    )
    return customer


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))


async def verify_pin(
    *, session: AsyncSession, limiter: RateLimiter | None, customer_id: int, pin: str, clock: Clock
) -> Customer:
    """Check a PIN. Raises PinLocked (with retry_after) or PinIncorrect (with attempts_left).

    A malformed PIN (letters, wrong length) counts as a wrong try. `limiter` (the runtime's) holds
    the number's wrong PINs across channels; None leaves only the lockout on the customer row.
    """
    customer = await get_customer(session=session, customer_id=customer_id)
    if customer.status != CustomerStatus.ACTIVE.value:
        raise CustomerBlocked("this account is not active")
    if customer.pin_reset_pending:
        raise PinResetPending("set a new PIN with the code we sent by SMS")
    now = clock.now()
    if customer.pin_locked_until is not None and customer.pin_locked_until > now:
        raise PinLocked(
            retry_after=_retry_after(customer.pin_locked_until, now), locked_until=customer.pin_locked_until
        )
    blocked = await phone_blocked(limiter, PIN_PER_ACCOUNT, customer.phone)  # wrong PINs on any channel
    if blocked:
        raise PinLocked(retry_after=blocked, locked_until=now + timedelta(seconds=blocked))
    well_formed = len(pin) == pins.PIN_LENGTH and pin.isascii() and pin.isdigit()
    if well_formed and await pins.pin_matches_in_thread(customer.pin_hash, pin):
        customer.pin_failed_count, customer.pin_locked_until = 0, None
        await session.flush()
        # A hash made with older Argon2 parameters is replaced in this transaction (rehash on login).
        await upgrade_hash(session=session, row=customer, column=Customer.pin_hash, secret=pin)
        return customer
    raise await _pin_failed(session=session, limiter=limiter, customer=customer, now=now)


async def _pin_failed(
    *, session: AsyncSession, limiter: RateLimiter | None, customer: Customer, now: datetime
) -> PinIncorrect | PinLocked:
    customer.pin_failed_count += 1
    await count_phone(limiter, PIN_PER_ACCOUNT, customer.phone)
    customer.updated_at = now
    lock = pins.lockout_for(customer.pin_failed_count)
    log.warning(
        "pin_failed", customer_id=customer.id, failed_count=customer.pin_failed_count, locked=lock is not None
    )
    details = {"failed_count": customer.pin_failed_count}
    if lock is None:
        await session.flush()
        await audit.record(
            session=session,
            actor=_actor(customer),
            action="pin.failed",
            subject=_actor(customer),
            details=details,
        )
        return PinIncorrect(attempts_left=pins.MAX_TRIES_BEFORE_LOCK - customer.pin_failed_count)
    customer.pin_locked_until = now + lock
    await session.flush()
    details["locked_seconds"] = int(lock.total_seconds())
    await audit.record(
        session=session,
        actor=_actor(customer),
        action="pin.locked",
        subject=_actor(customer),
        details=details,
    )
    await notices.stage(
        session=session,
        customer=customer,
        code=notices.PIN_LOCKED,
        reference=f"locked:{customer.id}:{customer.pin_failed_count}:{now.isoformat()}",
    )
    return PinLocked(retry_after=int(lock.total_seconds()), locked_until=customer.pin_locked_until)


async def change_pin(
    *,
    session: AsyncSession,
    limiter: RateLimiter | None,
    customer_id: int,
    old_pin: str,
    new_pin: str,
    clock: Clock,
) -> Customer:
    """Change needs the old PIN (counted toward lockout like any other try)."""
    customer = await verify_pin(
        session=session, limiter=limiter, customer_id=customer_id, pin=old_pin, clock=clock
    )
    pins.check_new_pin(new_pin, phone=customer.phone)
    customer.pin_hash = await pins.hash_pin_in_thread(new_pin)
    customer.pin_changed_at = customer.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session=session, actor=_actor(customer), action="pin.changed", subject=_actor(customer)
    )
    await notices.stage(
        session=session,
        customer=customer,
        code=notices.PIN_CHANGED,
        reference=f"changed:{customer.id}:{customer.pin_changed_at.isoformat()}",
    )
    return customer


async def reset_pin(
    *, session: AsyncSession, customer_id: int, new_pin: str, clock: Clock, actor: str
) -> Customer:
    """Set a new PIN without the old one (staff after a KYC re-check, or OTP + national ID).

    Clears the lockout and starts the 24-hour withdrawal/payout cool-down (SIM-swap defence).
    """
    customer = await get_customer(session=session, customer_id=customer_id)
    pins.check_new_pin(new_pin, phone=customer.phone)
    now = clock.now()
    customer.pin_hash = await pins.hash_pin_in_thread(new_pin)
    customer.pin_failed_count, customer.pin_locked_until = 0, None
    customer.pin_reset_pending = False
    customer.pin_changed_at = customer.pin_reset_at = customer.updated_at = now
    log.info("pin_reset", customer_id=customer.id, actor=actor)
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="pin.reset",
        subject=_actor(customer),
        details={"withdrawals_allowed_at": (now + pins.RESET_COOLDOWN).isoformat()},
    )
    await notices.stage(
        session=session,
        customer=customer,
        code=notices.PIN_RESET,
        reference=f"reset:{customer.id}:{now.isoformat()}",
    )
    return customer


async def start_staff_pin_reset(
    *,
    session: AsyncSession,
    customer_id: int,
    notifier: Notifier,
    clock: Clock,
    actor: str,
    limiter: RateLimiter | None = None,
) -> Customer:
    """Staff re-checked the customer's ID and reset their PIN: staff never choose it. The old PIN
    stops working, a one-time code goes to the customer by SMS (with a notice in their language),
    and the next dial asks for the code and a new PIN. Money out waits the 24-hour cool-down from
    now, and again from when the new PIN is set. The caller commits. `limiter`: the runtime's, to
    count the code against the number's OTP limit; None leaves the database's codes-per-hour cap."""
    customer = await get_customer(session=session, customer_id=customer_id)
    now = clock.now()
    customer.pin_reset_pending = True
    customer.pin_failed_count, customer.pin_locked_until = 0, None
    customer.pin_reset_at = customer.updated_at = now
    await session.flush()
    await otps.issue_otp(
        session=session,
        notifier=notifier,
        limiter=limiter,
        phone=customer.phone,
        purpose="pin_reset",
        clock=clock,
        language=customer.language,
    )
    await audit.record(
        session=session,
        actor=actor,
        action="pin.reset_started",
        subject=_actor(customer),
        details={"withdrawals_allowed_at": (now + pins.RESET_COOLDOWN).isoformat()},
    )
    await notices.stage(
        session=session,
        customer=customer,
        code=notices.PIN_RESET_STARTED,
        reference=f"reset-started:{customer.id}:{now.isoformat()}",
    )
    log.info("pin_reset_started", customer_id=customer.id, actor=actor)
    return customer


def withdrawals_allowed_at(customer: Customer) -> datetime | None:
    """When withdrawals and payouts open again after a PIN reset; None if never paused."""
    if customer.pin_reset_at is None:
        return None
    return customer.pin_reset_at + pins.RESET_COOLDOWN


def assert_withdrawals_allowed(customer: Customer, *, clock: Clock) -> None:
    """Raise WithdrawalsCoolingDown during the 24 h after a PIN reset."""
    allowed_at = withdrawals_allowed_at(customer)
    if allowed_at is not None and clock.now() < allowed_at:
        raise WithdrawalsCoolingDown(allowed_at=allowed_at)


async def set_kyc_tier(*, session: AsyncSession, customer_id: int, tier: int) -> None:
    """The tier on the customer row (read by fee overrides and quotes); compliance's KYC profile holds
    the same tier for its gate and audits the change."""
    await session.execute(update(Customer).where(Customer.id == customer_id).values(kyc_tier=tier))
