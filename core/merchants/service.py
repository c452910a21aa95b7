"""Create, find, activate, suspend and list merchants. Keyword-only; the caller's session owns the
transaction. Staff moves are audited; activation screens the business and its directors first."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import Clock
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.merchants.errors import (
    InvalidMerchant,
    MerchantNotActive,
    MerchantStateConflict,
    TillCodeTaken,
    UnknownMerchant,
)
from core.merchants.models import (
    DEFAULT_FEE_BPS,
    DEFAULT_INVOICE_EXPIRY_MINUTES,
    DEFAULT_SETTLEMENT_MINIMUM_MINOR,
    MAX_FEE_BPS,
    MAX_TOLERANCE_BPS,
    MIN_FEE_BPS,
    Merchant,
    MerchantStatus,
    SettlementMethod,
    SettlementSchedule,
)
from core.ports import ComplianceGate

KRA_PIN = re.compile(r"^[AP]\d{9}[A-Z]$")
SHORTCODE = re.compile(r"^\d{5,7}$")  # M-Pesa till and paybill numbers
ACCOUNT_REF = re.compile(r"^[A-Za-z0-9 .\-]{1,20}$")
TILL_CODE = re.compile(r"^[1-9]\d{5}$")  # Kibeti's own six-digit merchant code
REGISTRATION = re.compile(r"^[A-Za-z0-9/\- ]{2,40}$")
SCREEN_PASSES = frozenset({"clear", "pending"})  # pending: no list loaded and the gate fails open


def _name(text: str, what: str) -> str:
    clean = " ".join((text or "").split())
    if not 2 <= len(clean) <= 100 or not clean.isprintable():
        raise InvalidMerchant(f"{what} needs 2 to 100 printable characters")
    return clean


def _phone(text: str, what: str) -> str:
    try:
        return normalize_phone(text)
    except InvalidPhoneNumber as exc:
        raise InvalidMerchant(f"{what}: {exc}") from exc


def _minimum_minor(amount: Decimal | str | None) -> int:
    if amount is None:
        return DEFAULT_SETTLEMENT_MINIMUM_MINOR
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise InvalidMerchant("the settlement minimum is not an amount") from exc
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")) or value > 250_000:
        raise InvalidMerchant("the settlement minimum is KES 0 to 250,000 with at most 2 decimals")
    return int(value * 100)


@dataclass(frozen=True)
class Settlement:
    method: str
    till: str = ""
    paybill: str = ""
    account: str = ""
    phone: str = ""


def _settlement(method: str, till: str, paybill: str, account: str, phone: str) -> Settlement:
    try:
        kind = SettlementMethod(method)
    except ValueError as exc:
        raise InvalidMerchant("settlement method is till, paybill or phone") from exc
    if kind is SettlementMethod.TILL:
        if not SHORTCODE.match(till or ""):
            raise InvalidMerchant("a Buy Goods till number has 5 to 7 digits")
        return Settlement(kind.value, till=till)
    if kind is SettlementMethod.PAYBILL:
        if not SHORTCODE.match(paybill or ""):
            raise InvalidMerchant("a paybill number has 5 to 7 digits")
        if not ACCOUNT_REF.match(account or ""):
            raise InvalidMerchant("a paybill account is 1 to 20 letters, digits, spaces, dots or dashes")
        return Settlement(kind.value, paybill=paybill, account=account.strip())
    return Settlement(kind.value, phone=_phone(phone, "settlement phone"))


def _check_ranges(fee_bps: int, invoice_expiry_minutes: int, payment_tolerance_bps: int) -> None:
    if not MIN_FEE_BPS <= fee_bps <= MAX_FEE_BPS:
        raise InvalidMerchant("the fee rate is 100 to 200 basis points (1 % to 2 %)")
    if not 1 <= invoice_expiry_minutes <= 1440:
        raise InvalidMerchant("invoices expire after 1 to 1440 minutes")
    if not 0 <= payment_tolerance_bps <= MAX_TOLERANCE_BPS:
        raise InvalidMerchant("the payment tolerance is 0 to 1000 basis points (0 % to 10 %)")


async def _free_till_code(session: AsyncSession, wanted: str | None) -> str:
    if wanted is not None:
        if not TILL_CODE.match(wanted):
            raise InvalidMerchant("a Kibeti till code is six digits, not starting with 0")
        if await _by_till_code(session, wanted) is not None:
            raise TillCodeTaken(f"till code {wanted} is taken")
        return wanted
    while True:
        code = str(100_000 + secrets.randbelow(900_000))
        if await _by_till_code(session, code) is None:
            return code


async def _by_till_code(session: AsyncSession, till_code: str) -> Merchant | None:
    query = select(Merchant).where(Merchant.till_code == till_code)
    return (await session.execute(query)).scalar_one_or_none()


async def create_merchant(
    *,
    session: AsyncSession,
    name: str,
    actor: str,
    clock: Clock,
    kra_pin: str = "",
    registration_number: str = "",
    directors: list[str] | None = None,
    contact_phone: str = "",
    notification_phones: list[str] | None = None,
    language: str = "en",
    settlement_method: str | None = None,
    settlement_till: str = "",
    settlement_paybill: str = "",
    settlement_account: str = "",
    settlement_phone: str = "",
    settlement_schedule: str = SettlementSchedule.INSTANT.value,
    settlement_minimum: Decimal | str | None = None,
    fee_bps: int = DEFAULT_FEE_BPS,
    invoice_expiry_minutes: int = DEFAULT_INVOICE_EXPIRY_MINUTES,
    payment_tolerance_bps: int = 0,
    till_code: str | None = None,
) -> Merchant:
    """A new merchant, pending until staff activate it (activation screens it). Only the name is
    required here; settlement details may come later but must be complete to activate."""
    clean = _name(name, "a merchant's business name")
    pin = (kra_pin or "").strip().upper()
    if pin and not KRA_PIN.match(pin):
        raise InvalidMerchant("a KRA PIN is A or P, nine digits and a letter, e.g. P051234567X")
    registration = " ".join((registration_number or "").split())
    if registration and not REGISTRATION.match(registration):
        raise InvalidMerchant("a registration number is 2 to 40 letters, digits, / or -")
    people = [_name(d, "a director's name") for d in directors or []]
    contact = _phone(contact_phone, "contact phone") if contact_phone else ""
    notify = list(dict.fromkeys(_phone(p, "notification phone") for p in notification_phones or []))
    if len(notify) > 5:
        raise InvalidMerchant("at most 5 notification phones")
    if language not in ("en", "sw"):
        raise InvalidMerchant("language is en or sw")
    if settlement_schedule not in {s.value for s in SettlementSchedule}:
        raise InvalidMerchant("settlement schedule is instant or daily")
    _check_ranges(fee_bps, invoice_expiry_minutes, payment_tolerance_bps)
    settlement = Settlement(SettlementMethod.PHONE.value)
    if settlement_method is not None:
        settlement = _settlement(
            settlement_method, settlement_till, settlement_paybill, settlement_account, settlement_phone
        )
    merchant = Merchant(
        name=clean,
        status=MerchantStatus.PENDING.value,
        till_code=await _free_till_code(session, till_code),
        kra_pin=pin,
        registration_number=registration,
        directors=people,
        contact_phone=contact,
        notification_phones=notify or ([contact] if contact else []),
        language=language,
        settlement_method=settlement.method,
        settlement_till=settlement.till,
        settlement_paybill=settlement.paybill,
        settlement_account=settlement.account,
        settlement_phone=settlement.phone,
        settlement_schedule=settlement_schedule,
        settlement_minimum_minor=_minimum_minor(settlement_minimum),
        fee_bps=fee_bps,
        invoice_expiry_minutes=invoice_expiry_minutes,
        payment_tolerance_bps=payment_tolerance_bps,
        created_at=clock.now(),
        created_by=actor,
    )
    session.add(merchant)
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="merchant.created",
        subject=f"merchant:{merchant.id}",
        details={"till_code": merchant.till_code, "fee_bps": fee_bps},
        clock=clock,
    )
    return merchant


async def get_merchant(*, session: AsyncSession, merchant_id: int) -> Merchant:
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise UnknownMerchant(f"no merchant {merchant_id}")
    return merchant


async def get_by_till_code(*, session: AsyncSession, till_code: str) -> Merchant:
    """The merchant customers pay by typing this code; UnknownMerchant when none has it."""
    merchant = await _by_till_code(session, (till_code or "").strip())
    if merchant is None:
        raise UnknownMerchant(f"no merchant with till code {till_code}")
    return merchant


async def require_active(*, session: AsyncSession, merchant_id: int) -> Merchant:
    """The merchant if active: UnknownMerchant when none has this id, MerchantNotActive otherwise."""
    merchant = await get_merchant(session=session, merchant_id=merchant_id)
    if merchant.status != MerchantStatus.ACTIVE.value:
        raise MerchantNotActive(f"merchant {merchant_id} is {merchant.status}")
    return merchant


@dataclass(frozen=True)
class Activation:
    merchant: Merchant
    screening: str  # clear | review | alert | block | pending

    @property
    def activated(self) -> bool:
        return self.merchant.status == MerchantStatus.ACTIVE.value


def _ready_for_activation(merchant: Merchant) -> None:
    if not merchant.kra_pin:
        raise InvalidMerchant("a merchant needs a KRA PIN before activation")
    try:
        _settlement(
            merchant.settlement_method,
            merchant.settlement_till,
            merchant.settlement_paybill,
            merchant.settlement_account,
            merchant.settlement_phone,
        )
    except InvalidMerchant as exc:
        raise InvalidMerchant(f"settlement details are incomplete: {exc}") from exc


async def activate_merchant(
    *, session: AsyncSession, merchant_id: int, actor: str, clock: Clock, compliance: ComplianceGate
) -> Activation:
    """Screen the business name and directors, then activate when the screen passes. A held screen
    leaves the merchant pending (its screening rows and alerts stay: commit either way)."""
    merchant = await get_merchant(session=session, merchant_id=merchant_id)
    if merchant.status == MerchantStatus.ACTIVE.value:
        return Activation(merchant, merchant.screening_outcome or "clear")
    _ready_for_activation(merchant)
    outcome = await compliance.screen_business(
        session=session, subject_ref=f"merchant:{merchant.id}", names=[merchant.name, *merchant.directors]
    )
    merchant.screening_outcome = outcome
    passed = outcome in SCREEN_PASSES
    if passed:
        merchant.status = MerchantStatus.ACTIVE.value
        merchant.activated_at = clock.now()
        merchant.suspended_at, merchant.suspension_reason = None, ""
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="merchant.activated" if passed else "merchant.activation_held",
        subject=f"merchant:{merchant.id}",
        details={"screening": outcome},
        clock=clock,
    )
    return Activation(merchant, outcome)


async def suspend_merchant(
    *, session: AsyncSession, merchant_id: int, actor: str, clock: Clock, reason: str
) -> Merchant:
    """Suspended merchants' keys stop working and their invoices take no new ones; idempotent."""
    merchant = await get_merchant(session=session, merchant_id=merchant_id)
    why = " ".join((reason or "").split())
    if not 3 <= len(why) <= 200:
        raise InvalidMerchant("say why, in 3 to 200 characters")
    if merchant.status == MerchantStatus.SUSPENDED.value:
        return merchant
    if merchant.status not in (MerchantStatus.ACTIVE.value, MerchantStatus.PENDING.value):
        raise MerchantStateConflict(f"merchant {merchant_id} is {merchant.status}")
    merchant.status = MerchantStatus.SUSPENDED.value
    merchant.suspended_at, merchant.suspension_reason = clock.now(), why
    await session.flush()
    await audit.record(
        session=session,
        actor=actor,
        action="merchant.suspended",
        subject=f"merchant:{merchant.id}",
        details={"reason": why},
        clock=clock,
    )
    return merchant


async def list_merchants(
    *, session: AsyncSession, limit: int = 100, status: str | None = None
) -> list[Merchant]:
    query = select(Merchant).order_by(Merchant.id).limit(limit)
    if status is not None:
        query = query.where(Merchant.status == status)
    return list((await session.execute(query)).scalars())


MAX_NOTIFICATION_PHONES = 5


async def set_notification_phones(
    *, session: AsyncSession, merchant_id: int, phones: list[str], actor: str, clock: Clock
) -> Merchant:
    """The numbers that get an SMS for every payment and settlement (at most five, normalised)."""
    merchant = await get_merchant(session=session, merchant_id=merchant_id)
    clean = list(dict.fromkeys(_phone(p, "notification phone") for p in phones if p.strip()))
    if not 1 <= len(clean) <= MAX_NOTIFICATION_PHONES:
        raise InvalidMerchant(f"give 1 to {MAX_NOTIFICATION_PHONES} notification phones")
    merchant.notification_phones = clean
    await session.flush()
    await audit.record(
        session=session, actor=actor, action="merchant.notification_phones_changed",
        subject=f"merchant:{merchant_id}", details={"count": len(clean)}, clock=clock,
    )  # fmt: skip
    return merchant
