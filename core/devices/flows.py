"""Portal sign-in with the phone number and an SMS code, and the device sessions it starts.

The code goes through the same OTP service as Telegram linking and PIN reset (rate limits shared
across channels); money still needs the customer's PIN on every movement (CoreFlows checks it, with
the USSD lockout).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.devices import service
from core.devices.errors import NotRegistered
from core.identity import otp as otps
from core.identity import service as identity
from core.identity.errors import CustomerBlocked
from core.identity.models import CustomerStatus
from core.identity.phone import normalize_phone
from core.runtime import Runtime

OTP_PURPOSE = "portal_login"


@dataclass(frozen=True)
class SignedInCustomer:
    customer_id: int
    phone: str
    name: str
    language: str
    device_id: str


@dataclass(frozen=True)
class DeviceView:
    """A device as the customer sees it; its id (the session's bearer secret) is never shown."""

    label: str
    created_at: datetime
    last_seen_at: datetime
    this_device: bool


class PortalSignIn:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def request_code(self, *, phone_text: str) -> str:
        """Send a sign-in code by SMS to a registered number; returns the number in E.164."""
        phone = normalize_phone(phone_text)
        if self.rt.notifier is None:
            raise RuntimeError("Runtime.notifier is not wired")
        async with self.rt.session_factory() as session:
            customer = await identity.get_customer_by_phone(session=session, phone=phone)
            if customer is None:
                raise NotRegistered("no Kibeti account for this number")
            if customer.status != CustomerStatus.ACTIVE.value:
                raise CustomerBlocked("this account is not active")
            await otps.issue_otp(
                session=session, notifier=self.rt.notifier, limiter=self.rt.rate_limiter,
                phone=phone, purpose=OTP_PURPOSE,
                clock=self.rt.clock, language=customer.language,
            )  # fmt: skip
            await session.commit()
        return phone

    async def sign_in(self, *, phone_text: str, code: str, label: str) -> SignedInCustomer:
        """Check the code (a wrong one counts, and is committed) and start a device session."""
        phone = normalize_phone(phone_text)
        now = self.rt.clock.now()
        async with self.rt.session_factory() as session:
            try:
                await otps.verify_otp(
                    session=session, limiter=self.rt.rate_limiter,
                    phone=phone, purpose=OTP_PURPOSE, code=code, clock=self.rt.clock,
                )  # fmt: skip
            except Exception:
                await session.commit()
                raise
            customer = await identity.get_customer_by_phone(session=session, phone=phone)
            if customer is None:
                raise NotRegistered("no Kibeti account for this number")
            if customer.status != CustomerStatus.ACTIVE.value:
                raise CustomerBlocked("this account is not active")
            device = await service.create(session, customer_id=customer.id, label=label, now=now)
            signed_in = SignedInCustomer(
                customer.id, customer.phone, customer.name, customer.language, device.id
            )
            await session.commit()
        return signed_in

    async def current(self, *, device_id: str) -> SignedInCustomer | None:
        """Who a device session belongs to, while it is live and the customer active."""
        async with self.rt.session_factory() as session:
            device = await service.live(session, device_id=device_id, now=self.rt.clock.now())
            customer = (
                await identity.get_customer(session=session, customer_id=device.customer_id)
                if device is not None
                else None
            )
            await session.commit()
        if device is None or customer is None or customer.status != CustomerStatus.ACTIVE.value:
            return None
        return SignedInCustomer(customer.id, customer.phone, customer.name, customer.language, device.id)

    async def sign_out(self, *, device_id: str) -> None:
        async with self.rt.session_factory() as session:
            await service.revoke(session, device_id=device_id, by="customer", now=self.rt.clock.now())
            await session.commit()

    async def sign_out_everywhere(self, *, customer_id: int, by: str = "customer") -> int:
        async with self.rt.session_factory() as session:
            count = await service.revoke_all(session, customer_id=customer_id, by=by, now=self.rt.clock.now())
            await session.commit()
        return count

    async def devices(self, *, customer_id: int, current_device_id: str) -> list[DeviceView]:
        async with self.rt.session_factory() as session:
            rows = await service.active_devices(session, customer_id=customer_id, now=self.rt.clock.now())
            await session.commit()
        return [
            DeviceView(row.label, row.created_at, row.last_seen_at, row.id == current_device_id)
            for row in rows
        ]
