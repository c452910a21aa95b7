"""Use cases across the KYC service, the identity port and screening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from compliance import kyc
from compliance.iprs import IdentityVerifier
from compliance.sanctions import store
from compliance.sanctions.screening import Outcome
from compliance.screening_service import screen_customer


@dataclass(frozen=True)
class OnboardingResult:
    tier: int
    iprs_status: str
    sanctions: str  # clear | review | alert | block | pending (no list loaded)


async def verify_identity_flow(
    *,
    session: AsyncSession,
    customer_id: int,
    full_name: str,
    id_number: str,
    date_of_birth: date | str,
    verifier: IdentityVerifier,
    now: datetime,
) -> OnboardingResult:
    """T1 onboarding: validate, check IPRS, screen the identity. A sanctions block keeps the
    customer at T0 (and the screening opens a case); an alert leaves T1 but the gate holds
    movements for review until compliance disposes of the alert."""
    outcome = await kyc.submit_t1(
        session=session,
        customer_id=customer_id,
        full_name=full_name,
        id_number=id_number,
        date_of_birth=date_of_birth,
        verifier=verifier,
        now=now,
    )
    lists = await store.active_list(session=session)
    if lists is None:
        return OnboardingResult(outcome.profile.tier, outcome.verification.status, "pending")
    screened = await screen_customer(session=session, lists=lists, profile=outcome.profile, now=now)
    if screened is Outcome.BLOCK:
        await kyc.set_customer_tier(
            session=session,
            profile=outcome.profile,
            tier=0,
            actor="system",
            reason="sanctions_block",
            now=now,
        )
    return OnboardingResult(outcome.profile.tier, outcome.verification.status, screened.value)
