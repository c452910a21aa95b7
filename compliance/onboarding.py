"""Identity from the first dial: registration writes the KYC profile and screens it; the identity
registry (IPRS) check runs as a job and lifts a match to T1; a mismatch, or a screening hit, waits
for staff (`approve_t1`).

Registration (any channel) -> `register_identity` in the registration's transaction:
  profile (name, ID, DOB) -> screening against the active list (audited with its time) ->
  block: frozen + case (the screening opened it); review/alert: held at T0 for staff ->
  `compliance.jobs.verify_identity` staged through the outbox.
The job -> `verify_identity`: match and nothing held -> T1 + SMS; otherwise an alert for staff + SMS.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from compliance import audit_trail, cases, kyc, notices
from compliance.errors import IdentityReviewNotPossible, InvalidIdNumber
from compliance.models import Alert, AlertStatus, KycProfile
from compliance.sanctions import store
from compliance.sanctions.screening import Outcome
from compliance.screening_service import screen_customer
from core.money import Asset, Money
from core.outbox import service as outbox
from core.ports import IdentityCheck, IdentityClaim, IdentityRegistry

VERIFY_JOB = "compliance.jobs.verify_identity"
PENDING = "pending"
HELD_OUTCOMES = frozenset({Outcome.REVIEW.value, Outcome.ALERT.value, Outcome.BLOCK.value})


def clean_name(full_name: str) -> str:
    name = " ".join(full_name.split())
    if len(name) < 3 or not any(ch.isalpha() for ch in name):
        raise InvalidIdNumber("enter your full name as on your ID")
    return name


async def register_identity(*, session: AsyncSession, claim: IdentityClaim, now: datetime) -> str:
    """Write and screen a new customer's identity; returns the screening outcome (or "pending")."""
    name = clean_name(claim.full_name)
    number = kyc.validate_id_number(claim.id_number)
    dob = kyc.validate_date_of_birth(claim.date_of_birth, today=now.date())
    profile = await kyc.ensure_profile(session=session, customer_id=claim.customer_id, now=now)
    profile.full_name, profile.id_type, profile.id_number, profile.date_of_birth = (
        name,
        "national_id",
        number,
        dob,
    )
    profile.iprs_status, profile.updated_at = PENDING, now
    outcome = await screen_profile(session=session, profile=profile, now=now)
    if outcome == Outcome.BLOCK.value:
        await kyc.set_frozen(
            session=session,
            customer_id=claim.customer_id,
            frozen=True,
            reason="screening at registration",
            actor="system",
            now=now,
        )
    await outbox.enqueue(
        session=session,
        job=VERIFY_JOB,
        kwargs={"customer_id": claim.customer_id},
        dedupe_key=f"kyc-verify:{claim.customer_id}",
    )
    return outcome


async def screen_profile(*, session: AsyncSession, profile: KycProfile, now: datetime) -> str:
    """Screen against the active list and audit when (and against which version) it was done.
    Without a list the outcome is "pending" until the next load re-screens everyone."""
    lists = await store.active_list(session=session)
    if lists is None:
        profile.sanctions_outcome = PENDING
        outcome, version = PENDING, 0
    else:
        outcome = (await screen_customer(session=session, lists=lists, profile=profile, now=now)).value
        version = lists.version
    await audit_trail.record(
        session=session,
        actor="system",
        action="kyc.screened",
        subject=f"customer:{profile.customer_id}",
        now=now,
        details={"outcome": outcome, "list_version": version, "screened_at": now.isoformat()},
    )
    return outcome


async def verify_identity(
    *, session: AsyncSession, customer_id: int, registry: IdentityRegistry, now: datetime
) -> str:
    """The identity-registry check for a registered identity (once: a decided profile is left
    alone). Returns the registry's status, or "" when there was nothing to check."""
    locked = select(KycProfile).where(KycProfile.customer_id == customer_id).with_for_update()
    profile = (await session.execute(locked)).scalar_one_or_none()
    if profile is None or profile.iprs_status != PENDING or profile.date_of_birth is None:
        return ""
    result = await registry.verify(
        id_number=profile.id_number, full_name=profile.full_name, date_of_birth=profile.date_of_birth
    )
    profile.iprs_status, profile.iprs_reference, profile.updated_at = result.status, result.reference, now
    await audit_trail.record(
        session=session,
        actor="system",
        action="kyc.identity_checked",
        subject=f"customer:{customer_id}",
        now=now,
        details={
            "status": result.status,
            "reference": result.reference,
            "mismatches": list(result.mismatches),
        },
    )
    held = profile.frozen or profile.sanctions_outcome in HELD_OUTCOMES
    if result.matched and not held:
        if profile.tier < 1:
            await kyc.set_customer_tier(
                session=session, profile=profile, tier=1, actor="system", reason="iprs_match", now=now
            )
            await _tell_verified(session, profile)
        return result.status
    if not result.matched:
        await _alert_mismatch(session, profile, result, now)
    await notices.stage(
        session=session,
        customer_id=customer_id,
        code="compliance.sms.identity_review",
        reference=f"kyc-review:{customer_id}",
    )
    return result.status


async def _tell_verified(session: AsyncSession, profile: KycProfile) -> None:
    tier = await kyc.get_tier(session=session, tier=profile.tier)
    await notices.stage(
        session=session,
        customer_id=profile.customer_id,
        code="compliance.sms.verified",
        reference=f"kyc-verified:{profile.customer_id}:{profile.tier}",
        values={
            "tier": str(profile.tier),
            "limit": notices.money_value(Money.from_minor(tier.per_transaction_kes, Asset.KES)),
        },
    )


async def _alert_mismatch(
    session: AsyncSession, profile: KycProfile, result: IdentityCheck, now: datetime
) -> None:
    what = ", ".join(result.mismatches) or result.status
    await cases.raise_alert(
        session=session,
        dedupe_key=f"kyc:identity:{profile.customer_id}:{result.reference or result.status}",
        customer_id=profile.customer_id,
        source="kyc",
        rule_code=f"identity_{result.status}"[:40],
        score=50,
        summary=f"identity registry: {result.status} ({what}); approve T1 by hand after checking the ID",
        details={
            "status": result.status,
            "reference": result.reference,
            "mismatches": list(result.mismatches),
        },
        movement_ids=[],
        now=now,
    )


async def approve_t1(
    *, session: AsyncSession, customer_id: int, approve: bool, reviewer: str, now: datetime
) -> KycProfile:
    """A staff decision on an identity the registry did not match (or a screening hit cleared by
    hand): approval lifts the customer to T1. Needs a registered name, ID number and DOB."""
    await kyc.require_customer(session=session, customer_id=customer_id)
    profile = await kyc.ensure_profile(session=session, customer_id=customer_id, now=now)
    if approve:
        if not (profile.full_name and profile.id_number and profile.date_of_birth):
            raise IdentityReviewNotPossible("the customer has no name, ID number and date of birth on file")
        if profile.frozen or profile.sanctions_outcome == Outcome.BLOCK.value:
            raise IdentityReviewNotPossible(
                "the account is frozen or blocked by screening: resolve its case first"
            )
    profile.iprs_status = "approved" if approve else "rejected"
    profile.reviewed_by, profile.updated_at = reviewer, now
    await audit_trail.record(
        session=session,
        actor=reviewer,
        action="kyc.t1_reviewed",
        subject=f"customer:{customer_id}",
        now=now,
        details={"approved": approve},
    )
    if approve and profile.tier < 1:
        await kyc.set_customer_tier(
            session=session, profile=profile, tier=1, actor=reviewer, reason="t1_approved", now=now
        )
        await _tell_verified(session, profile)
    elif not approve:
        await notices.stage(
            session=session,
            customer_id=customer_id,
            code="compliance.sms.identity_rejected",
            reference=f"kyc-rejected:{customer_id}:{now.isoformat()}",
        )
    await _close_identity_alerts(session, customer_id, approve=approve, reviewer=reviewer, now=now)
    return profile


async def _close_identity_alerts(
    session: AsyncSession, customer_id: int, *, approve: bool, reviewer: str, now: datetime
) -> None:
    """The open identity-registry alerts ("approve T1 by hand after checking the ID") this decision
    answers are closed with a note saying so. Alerts already in a case stay with their case."""
    statement = select(Alert).where(
        Alert.customer_id == customer_id,
        Alert.source == "kyc",
        Alert.rule_code.startswith("identity_"),
        Alert.status == AlertStatus.OPEN.value,
    )
    decision = "approved" if approve else "rejected"
    for alert in (await session.execute(statement.order_by(Alert.id))).scalars().all():
        await cases.dismiss_alert(
            session=session, alert_id=alert.id, actor=reviewer, now=now,
            note=f"answered by the identity review: T1 {decision} by {reviewer}",
        )  # fmt: skip
