"""Identity use cases that span a transaction boundary or several services."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.identity import otp as otps
from core.identity import service
from core.identity.errors import CustomerNotFound, NationalIdMismatch, PinIncorrect, PinLocked
from core.identity.models import Customer
from core.ratelimit import RateLimiter
from core.security.compare import equals


async def check_pin(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    limiter: RateLimiter | None,
    customer_id: int,
    pin: str,
    clock: Clock,
) -> None:
    """Verify a PIN in its own transaction, so failure counters are committed even when it raises."""
    async with session_factory() as session:
        try:
            await service.verify_pin(
                session=session, limiter=limiter, customer_id=customer_id, pin=pin, clock=clock
            )
        except (PinIncorrect, PinLocked):
            await session.commit()
            raise
        await session.commit()


PIN_RESET_PENDING = "pin_reset_pending"  # the Customer flag a staff-initiated reset sets (issue 19)


def pin_reset_required(customer: Customer) -> bool:
    """Whether the customer must set a new PIN from an SMS code before anything else: staff reset
    their PIN (after re-checking their ID), which sends the code and marks the PIN reset-pending.
    The one place every channel asks (USSD routes such a customer straight to "enter the code")."""
    return bool(getattr(customer, PIN_RESET_PENDING, False))


async def reset_pin_with_otp(
    *,
    session: AsyncSession,
    limiter: RateLimiter | None,
    phone: str,
    otp: str,
    national_id: str | None,
    new_pin: str,
    clock: Clock,
) -> Customer:
    """Self-service reset: a valid OTP sent to the number plus the national ID on file. Without a
    national ID only after a staff reset (`pin_reset_required`: staff checked the ID already).

    Starts the 24-hour withdrawal cool-down. The caller commits (also on OtpInvalid, to count it,
    and on NationalIdMismatch: the code is then spent, so an ID cannot be guessed on one code).
    """
    customer = await service.get_customer_by_phone(session=session, phone=phone)
    if customer is None:
        raise CustomerNotFound("no Kibeti account for this number")
    if national_id is None and not pin_reset_required(customer):
        raise NationalIdMismatch("the ID number is needed to reset the PIN")
    await otps.verify_otp(
        session=session, limiter=limiter, phone=customer.phone, purpose="pin_reset", code=otp, clock=clock
    )
    if national_id is not None and (
        not customer.national_id or not equals(national_id.strip().upper(), customer.national_id.upper())
    ):
        raise NationalIdMismatch("the ID number does not match our records")
    customer = await service.reset_pin(
        session=session,
        customer_id=customer.id,
        new_pin=new_pin,
        clock=clock,
        actor=f"customer:{customer.id}",
    )
    if pin_reset_required(customer):
        setattr(customer, PIN_RESET_PENDING, False)
    return customer
