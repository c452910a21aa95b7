"""KYC service: tiers and their limits, customer profiles, T1 verification, T2 documents.

Keyword-only arguments; the caller passes the session and commits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import audit_trail, notices
from compliance.errors import (
    CustomerNotFound,
    InvalidDateOfBirth,
    InvalidDocument,
    InvalidIdNumber,
    InvalidLimit,
    LimitChangeNotFound,
    LimitChangeNotPending,
    MakerCheckerViolation,
    UnknownLimit,
    UnknownTier,
)
from compliance.iprs import IdentityVerifier, VerificationResult
from compliance.models import KycDocument, KycProfile, KycTier, LimitChange
from core.errors import InvalidAmount
from core.identity import queries as customers
from core.identity import service as identity
from core.identity.types import CustomerView
from core.money import Asset, parse_amount
from core.security import envelope
from core.security.envelope import Keyring

NATIONAL_ID_RE = re.compile(r"^[0-9]{1,9}$")  # Smile ID's KE national ID rule; keep leading zeros
MAISHA_RE = re.compile(r"^[0-9]{14}$")
PASSPORT_RE = re.compile(r"^[A-Z0-9]{7,9}$")
ID_PATTERNS = {"national_id": NATIONAL_ID_RE, "maisha": MAISHA_RE, "passport": PASSPORT_RE}
MIN_AGE_YEARS = 18
RETENTION = timedelta(days=7 * 366)  # POCAMLA s.46: at least 7 years
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
DOCUMENT_KINDS = frozenset({"id_front", "id_back", "selfie"})
IMAGE_SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
LIMIT_FIELDS = ("per_transaction_kes", "daily_kes", "monthly_kes", "max_balance_kes", "crypto_withdrawal_kes")
# Each limit must not exceed the next one: a payment above the daily limit could never be made.
LIMIT_ORDER = ("per_transaction_kes", "daily_kes", "monthly_kes")
_ZERO_KES = re.compile(r"^0+(?:\.0{1,2})?$")


def validate_id_number(id_number: str, id_type: str = "national_id") -> str:
    value = id_number.strip().upper().replace(" ", "")
    pattern = ID_PATTERNS.get(id_type)
    if pattern is None:
        raise InvalidIdNumber(f"unknown ID type {id_type!r}; use one of {', '.join(ID_PATTERNS)}")
    if not pattern.match(value):
        if id_type == "national_id":
            raise InvalidIdNumber("a national ID number has 1 to 9 digits and no letters")
        raise InvalidIdNumber(f"{id_number!r} is not a valid {id_type.replace('_', ' ')} number")
    return value


def validate_date_of_birth(value: date | str, *, today: date) -> date:
    try:
        dob = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InvalidDateOfBirth(f"{value!r} is not a date (use YYYY-MM-DD)") from exc
    if dob > today:
        raise InvalidDateOfBirth("the date of birth is in the future")
    if dob.year < 1900:
        raise InvalidDateOfBirth("the date of birth is before 1900")
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    if age < MIN_AGE_YEARS:
        raise InvalidDateOfBirth(f"customers must be at least {MIN_AGE_YEARS} years old")
    return dob


async def list_tiers(*, session: AsyncSession) -> list[KycTier]:
    return list((await session.execute(select(KycTier).order_by(KycTier.tier))).scalars())


async def get_tier(*, session: AsyncSession, tier: int) -> KycTier:
    found = await session.get(KycTier, tier)
    if found is None:
        raise UnknownTier(f"no KYC tier {tier}")
    return found


async def set_tier_limits(
    *, session: AsyncSession, tier: int, limits_kes: Mapping[str, Decimal], actor: str, now: datetime
) -> KycTier:
    """Change a tier's limits (KES as Decimal). Maker-checker is the caller's (staff flow's) duty."""
    row = await get_tier(session=session, tier=tier)
    parsed = {name: parse_limit_kes(name, value) for name, value in limits_kes.items()}
    check_limit_order(tier_limits_kes(row) | parsed)
    for name, value in parsed.items():
        setattr(row, name, int((value * 100).to_integral_exact()))
    row.updated_by = actor
    row.updated_at = now
    return row


def parse_limit_kes(name: str, raw: str | int | Decimal) -> Decimal:
    """A limit as staff typed it: a plain non-negative KES amount (zero allowed: "not permitted")."""
    if name not in LIMIT_FIELDS:
        raise UnknownLimit(f"unknown limit {name!r}; use one of {', '.join(LIMIT_FIELDS)}")
    text = str(raw).strip()
    if _ZERO_KES.match(text):
        return Decimal("0.00")
    try:
        return parse_amount(text, Asset.KES).amount
    except InvalidAmount as exc:
        raise InvalidLimit(f"{name}: {exc} (a KES amount with at most 2 decimals)") from exc


def tier_limits_kes(row: KycTier) -> dict[str, Decimal]:
    return {name: Decimal(getattr(row, name)).scaleb(-2) for name in LIMIT_FIELDS}


def check_limit_order(limits_kes: dict[str, Decimal]) -> None:
    for smaller, larger in pairwise(LIMIT_ORDER):
        if limits_kes[smaller] > limits_kes[larger]:
            low, high = limits_kes[smaller], limits_kes[larger]
            raise InvalidLimit(f"{smaller} (KES {low:,}) cannot be above {larger} (KES {high:,})")


async def require_customer(*, session: AsyncSession, customer_id: int) -> CustomerView:
    """The customer, or CustomerNotFound: staff actions never create records for unknown ids."""
    found = await customers.customer_view(session=session, customer_id=customer_id)
    if found is None:
        raise CustomerNotFound(f"no customer {customer_id}")
    return found


async def set_customer_tier(
    *, session: AsyncSession, profile: KycProfile, tier: int, actor: str, reason: str, now: datetime
) -> None:
    """Change the tier in both places that hold it: the KYC profile (read by the gate) and the
    customer row (read by fee overrides and quotes). Every change is audited."""
    previous = profile.tier
    profile.tier = tier
    profile.updated_at = now
    await identity.set_kyc_tier(session=session, customer_id=profile.customer_id, tier=tier)
    if previous != tier:
        await audit_trail.record(
            session=session,
            actor=actor,
            action="kyc.tier_changed",
            subject=f"customer:{profile.customer_id}",
            now=now,
            details={"from_tier": previous, "to_tier": tier, "reason": reason},
        )


async def get_profile(*, session: AsyncSession, customer_id: int) -> KycProfile | None:
    return await session.get(KycProfile, customer_id)


async def ensure_profile(*, session: AsyncSession, customer_id: int, now: datetime) -> KycProfile:
    """The customer's profile, created at T0 on first sight (race-safe)."""
    found = await session.get(KycProfile, customer_id)
    if found is not None:
        return found
    try:
        async with session.begin_nested():
            profile = KycProfile(customer_id=customer_id, tier=0, created_at=now, updated_at=now)
            session.add(profile)
        return profile
    except IntegrityError:
        existing = await session.get(KycProfile, customer_id)
        assert existing is not None
        return existing


@dataclass(frozen=True)
class T1Outcome:
    profile: KycProfile
    verification: VerificationResult
    upgraded: bool


async def submit_t1(
    *,
    session: AsyncSession,
    customer_id: int,
    full_name: str,
    id_number: str,
    date_of_birth: date | str,
    verifier: IdentityVerifier,
    now: datetime,
    id_type: str = "national_id",
) -> T1Outcome:
    """Validate, check against IPRS, and raise the customer to T1 when the register agrees.
    Sanctions screening of the new identity is the caller's next step (compliance.screening_service)."""
    name = " ".join(full_name.split())
    if len(name) < 3 or not any(ch.isalpha() for ch in name):
        raise InvalidIdNumber("enter your full name as on your ID")
    number = validate_id_number(id_number, id_type)
    dob = validate_date_of_birth(date_of_birth, today=now.date())
    profile = await ensure_profile(session=session, customer_id=customer_id, now=now)
    result = await verifier.verify(id_number=number, full_name=name, date_of_birth=dob)
    profile.full_name, profile.id_type, profile.id_number, profile.date_of_birth = name, id_type, number, dob
    profile.iprs_status, profile.iprs_reference = result.status, result.reference
    profile.updated_at = now
    upgraded = result.matched and profile.tier < 1
    if upgraded:
        await set_customer_tier(
            session=session,
            profile=profile,
            tier=1,
            actor=f"customer:{customer_id}",
            reason="iprs_match",
            now=now,
        )
    return T1Outcome(profile, result, upgraded)


def sniff_image(content: bytes) -> str:
    for signature, content_type in IMAGE_SIGNATURES.items():
        if content.startswith(signature):
            return content_type
    raise InvalidDocument("the upload is not a JPEG or PNG image")


async def add_document(
    *,
    session: AsyncSession,
    customer_id: int,
    kind: str,
    content: bytes,
    keyring: Keyring,
    now: datetime,
) -> KycDocument:
    """Store an ID photo or selfie sealed at rest; T2 review goes pending once both kinds exist."""
    if kind not in DOCUMENT_KINDS:
        raise InvalidDocument(
            f"unknown document kind {kind!r}; use one of {', '.join(sorted(DOCUMENT_KINDS))}"
        )
    if not content:
        raise InvalidDocument("the upload is empty")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"the upload is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB")
    content_type = sniff_image(content)
    document = KycDocument(
        customer_id=customer_id,
        kind=kind,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        sealed=envelope.seal(content, keyring=keyring, context=f"kyc:{customer_id}:{kind}"),
        created_at=now,
        retain_until=now + RETENTION,
    )
    session.add(document)
    await session.flush()
    kinds = set(
        (
            await session.execute(select(KycDocument.kind).where(KycDocument.customer_id == customer_id))
        ).scalars()
    )
    profile = await ensure_profile(session=session, customer_id=customer_id, now=now)
    if {"id_front", "selfie"} <= kinds and profile.t2_review in ("none", "rejected", MORE_REQUESTED):
        profile.t2_review = "pending"
        profile.updated_at = now
    return document


def open_document(document: KycDocument, *, keyring: Keyring) -> bytes:
    return envelope.open(
        document.sealed, keyring=keyring, context=f"kyc:{document.customer_id}:{document.kind}"
    )


MORE_REQUESTED = "more_requested"  # t2_review: staff asked for new photos; the next upload is reviewed
MORE_SMS = "compliance.sms.kyc_more_photos"


async def request_more(
    *, session: AsyncSession, customer_id: int, reviewer: str, reason: str, now: datetime
) -> KycProfile:
    """A staff decision asking the customer for new ID photos and a selfie: the profile leaves the
    queue until a new photo arrives, the reason code is audited, and an SMS in the customer's
    language is staged in this transaction (compliance.notices, sent through the Notifier port)."""
    profile = await ensure_profile(session=session, customer_id=customer_id, now=now)
    if profile.t2_review == "approved" or profile.frozen:
        raise InvalidDocument("this customer's documents are not waiting for a decision")
    profile.t2_review = MORE_REQUESTED
    profile.reviewed_by = reviewer
    profile.updated_at = now
    await audit_trail.record(
        session=session, actor=reviewer, action="kyc.more_requested", subject=f"customer:{customer_id}",
        now=now, details={"reason": reason},
    )  # fmt: skip
    await notices.stage(
        session=session, customer_id=customer_id, code=MORE_SMS,
        reference=f"kyc-more:{customer_id}:{int(now.timestamp())}",
    )  # fmt: skip
    return profile


async def review_t2(
    *, session: AsyncSession, customer_id: int, approve: bool, reviewer: str, now: datetime
) -> KycProfile:
    """A staff decision on the ID photo and selfie. Approval needs a T1 identity first."""
    profile = await ensure_profile(session=session, customer_id=customer_id, now=now)
    if profile.t2_review != "pending":
        raise InvalidDocument("no T2 documents are waiting for review")
    if approve and profile.tier < 1:
        raise InvalidDocument("the customer must reach T1 (verified ID) before T2")
    profile.t2_review = "approved" if approve else "rejected"
    profile.reviewed_by = reviewer
    profile.updated_at = now
    await audit_trail.record(
        session=session,
        actor=reviewer,
        action="kyc.t2_reviewed",
        subject=f"customer:{customer_id}",
        now=now,
        details={"approved": approve},
    )
    if approve and profile.tier < 2:
        await set_customer_tier(
            session=session, profile=profile, tier=2, actor=reviewer, reason="t2_approved", now=now
        )
    return profile


async def set_frozen(
    *, session: AsyncSession, customer_id: int, frozen: bool, reason: str, actor: str, now: datetime
) -> KycProfile:
    profile = await ensure_profile(session=session, customer_id=customer_id, now=now)
    profile.frozen = frozen
    profile.frozen_reason = reason if frozen else ""
    profile.updated_at = now
    await audit_trail.record(
        session=session,
        actor=actor,
        action="customer.frozen" if frozen else "customer.unfrozen",
        subject=f"customer:{customer_id}",
        now=now,
        details={"reason": profile.frozen_reason},
    )
    return profile


async def propose_limit_change(
    *,
    session: AsyncSession,
    tier: int,
    limits_kes: Mapping[str, str | int | Decimal],
    reason: str,
    actor: str,
    now: datetime,
) -> LimitChange:
    """Maker: record a change to a tier's limits; nothing changes until another person approves.
    Amounts are parsed strictly and must keep per-transaction <= daily <= monthly."""
    row = await get_tier(session=session, tier=tier)
    parsed = {name: parse_limit_kes(name, value) for name, value in limits_kes.items()}
    check_limit_order(tier_limits_kes(row) | parsed)
    change = LimitChange(
        tier=tier,
        changes_kes={k: str(v) for k, v in parsed.items()},
        reason=reason,
        status="pending",
        proposed_by=actor,
        proposed_at=now,
    )
    session.add(change)
    await session.flush()
    await audit_trail.record(
        session=session,
        actor=actor,
        action="limits.change_proposed",
        subject=f"limit_change:{change.id}",
        now=now,
        details={"tier": tier, "changes_kes": change.changes_kes, "reason": reason},
    )
    return change


async def decide_limit_change(
    *, session: AsyncSession, change_id: int, approve: bool, actor: str, now: datetime
) -> LimitChange:
    """Checker: a different person approves (the limits are applied) or rejects."""
    change = await session.get(LimitChange, change_id)
    if change is None:
        raise LimitChangeNotFound(f"no limit change {change_id}")
    if change.status != "pending":
        raise LimitChangeNotPending(f"limit change {change_id} is already {change.status}")
    if change.proposed_by == actor:
        raise MakerCheckerViolation("maker-checker: the proposer cannot approve their own limit change")
    change.status = "applied" if approve else "rejected"
    change.decided_by, change.decided_at = actor, now
    if approve:
        limits = {k: Decimal(v) for k, v in change.changes_kes.items()}
        await set_tier_limits(session=session, tier=change.tier, limits_kes=limits, actor=actor, now=now)
    await audit_trail.record(
        session=session,
        actor=actor,
        action="limits.change_approved" if approve else "limits.change_rejected",
        subject=f"limit_change:{change.id}",
        now=now,
        details={"tier": change.tier, "changes_kes": change.changes_kes},
    )
    return change
