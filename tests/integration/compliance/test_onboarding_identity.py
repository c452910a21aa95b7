"""Issue 12 item 1: registration writes the KYC identity and screens it (audited with its time);
the identity registry lifts a match to T1, a mismatch goes to staff, who approve T1 over the staff
API; a listed name is frozen with a case. Real PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from compliance import jobs, kyc
from compliance.iprs import IdentityRecord, SimulatedIprs
from compliance.models import Alert, Case, KycProfile
from compliance.sanctions import store
from compliance.sanctions.loader import SanctionsList
from compliance.seed import ensure_defaults
from core.audit.models import AuditEntry
from core.flows.service import CoreFlows
from tests.integration.compliance import issue12
from tests.integration.compliance.test_api_cli import staff_token
from tests.integration.identity.api_helpers import api_client


@pytest.fixture
async def pg(pg_session_factory, clock):  # type: ignore[no-untyped-def]
    async with pg_session_factory() as session, session.begin():
        await ensure_defaults(session=session, now=clock.now())
    return pg_session_factory


async def profile_of(factory, customer_id: int) -> KycProfile:  # type: ignore[no-untyped-def]
    async with factory() as session:
        found = await kyc.get_profile(session=session, customer_id=customer_id)
        assert found is not None
        return found


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_registration_screens_the_identity_and_the_registry_lifts_a_match_to_t1(
    pg, clock, crypto_lists: SanctionsList, language: str
) -> None:
    rt = issue12.build_runtime(pg, clock)
    async with pg() as session, session.begin():
        await store.save_version(session=session, lists=crypto_lists, loaded_by="test")
    customer_id = await issue12.register(CoreFlows(rt), "+254712000001", "12345678", language=language)

    profile = await profile_of(pg, customer_id)
    assert (profile.full_name, profile.id_number, profile.date_of_birth) == (
        "Amina Wanjiru",
        "12345678",
        date(1990, 3, 15),
    )
    assert profile.sanctions_outcome == "clear" and profile.sanctions_checked_at == clock.now()
    assert (profile.tier, profile.iprs_status) == (0, "pending")
    async with pg() as session:
        screened = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "kyc.screened"))
        ).scalar_one()
    assert screened.subject == f"customer:{customer_id}"
    assert (
        screened.details["screened_at"] == clock.now().isoformat() and screened.details["outcome"] == "clear"
    )
    assert await issue12.staged(pg, "compliance.jobs.verify_identity") == [{"customer_id": customer_id}]
    waiting = await rt.compliance.limits(customer_id)  # type: ignore[union-attr]
    assert (waiting.kyc_status, waiting.next_step) == ("pending", "identity_review")
    assert (await CoreFlows(rt).account_status(customer_id=customer_id)).next_step == "identity_review"

    await jobs.verify_identity(customer_id)
    assert (await profile_of(pg, customer_id)).tier == 1
    verified = await rt.compliance.limits(customer_id)  # type: ignore[union-attr]
    assert (verified.kyc_status, verified.next_step) == ("verified", "documents")
    assert (await issue12.customer(pg, customer_id)).kyc_tier == 1
    [notice] = await issue12.notices_for(pg, customer_id)
    text = issue12.notice_text(notice, language)
    expected = "Kiwango 1" if language == "sw" else "Tier 1"
    assert expected in text and "250,000" in text, text
    await jobs.verify_identity(customer_id)  # a rerun changes nothing and sends nothing more
    assert len(await issue12.notices_for(pg, customer_id)) == 1


async def test_a_customer_without_an_identity_is_told_to_register_it(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    limits = await rt.compliance.limits(424242)  # type: ignore[union-attr]
    assert (limits.tier, limits.kyc_status, limits.next_step) == (0, "none", "verify_id")
    for code in ("verify_id", "identity_review", "documents"):
        assert issue12.pin_notice_text(f"ussd.kyc.next.{code}", "sw").startswith("Ijayo: ")
        assert issue12.pin_notice_text(f"ussd.kyc.next.{code}", "en").startswith("Next: ")


async def test_without_a_list_the_screening_is_pending_not_clear(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712000002", "22345678")
    profile = await profile_of(pg, customer_id)
    assert profile.sanctions_outcome == "pending" and profile.sanctions_checked_at is None


async def test_a_registry_mismatch_goes_to_staff_who_approve_t1(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    registry = rt.compliance.verifier  # type: ignore[union-attr]
    assert isinstance(registry, SimulatedIprs)
    registry.register(IdentityRecord("32345678", "Amina Wanjiru", date(1991, 1, 1)))  # another DOB
    customer_id = await issue12.register(CoreFlows(rt), "+254712000003", "32345678")
    await jobs.verify_identity(customer_id)

    profile = await profile_of(pg, customer_id)
    assert (profile.tier, profile.iprs_status) == (0, "mismatch")
    async with pg() as session:
        alert = (await session.execute(select(Alert).where(Alert.customer_id == customer_id))).scalar_one()
    assert alert.source == "kyc" and alert.rule_code == "identity_mismatch"
    [notice] = await issue12.notices_for(pg, customer_id)
    assert "Our team will check it" in issue12.notice_text(notice, "en")
    assert "Timu yetu" in issue12.notice_text(notice, "sw")

    officer = {"Authorization": f"Bearer {await staff_token(pg, clock, 'compliance')}"}
    support = {"Authorization": f"Bearer {await staff_token(pg, clock, 'support', 'support@kibeti.test')}"}
    url = f"/api/staff/compliance/customers/{customer_id}/t1-review"
    async with api_client(rt) as (_app, client):
        assert (await client.post(url, json={"approve": True}, headers=support)).status_code == 403
        unknown = await client.post(
            "/api/staff/compliance/customers/999999/t1-review", json={"approve": True}, headers=officer
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "customer_not_found"
        approved = await client.post(url, json={"approve": True}, headers=officer)
    assert approved.status_code == 200, approved.text
    assert approved.json() == {"customer_id": customer_id, "tier": 1, "identity": "approved"}
    assert (await issue12.customer(pg, customer_id)).kyc_tier == 1
    assert issue12.notice_text((await issue12.notices_for(pg, customer_id))[-1], "en").startswith(
        "Your ID is verified"
    )


async def test_a_listed_name_at_registration_is_frozen_with_a_case_and_never_lifted(
    pg, clock, full_lists: SanctionsList
) -> None:
    rt = issue12.build_runtime(pg, clock)
    async with pg() as session, session.begin():
        await store.save_version(session=session, lists=full_lists, loaded_by="test")
    view = await CoreFlows(rt).register(
        phone="+254712000004",
        name="Joseph Kony",
        national_id="34567890",
        pin=issue12.PIN,
        language="en",
        idempotency_key="reg:kony",
        date_of_birth=date(1964, 9, 18),
    )
    profile = await profile_of(pg, view.id)
    assert profile.sanctions_outcome == "block" and profile.frozen
    async with pg() as session:
        case = (await session.execute(select(Case).where(Case.customer_id == view.id))).scalar_one()
    assert case.priority == "high"
    await jobs.verify_identity(view.id)
    assert (await profile_of(pg, view.id)).tier == 0  # the registry matched, the block holds


async def test_the_lenient_simulator_leaves_ids_ending_0000_unknown_for_staff(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712000005", "52340000")
    await jobs.verify_identity(customer_id)
    profile = await profile_of(pg, customer_id)
    assert (profile.tier, profile.iprs_status) == (0, "not_found")
    assert (await rt.compliance.limits(customer_id)).kyc_status == "pending"  # type: ignore[union-attr]


async def test_a_screening_hit_short_of_a_block_holds_the_customer_at_t0_for_staff(pg, clock) -> None:
    from compliance.sanctions.entities import ListedEntity
    from compliance.sanctions.loader import SanctionsList as Lists

    rt = issue12.build_runtime(pg, clock)
    listed = Lists.from_entities(
        [ListedEntity(source="ofac", source_id="99001", name="Grace Akinyi Odhiambo")]
    )
    async with pg() as session, session.begin():
        await store.save_version(session=session, lists=listed, loaded_by="test")
    customer_id = await issue12.register(
        CoreFlows(rt), "+254712000006", "62345678", name="Grace Akinyi Odhiambo"
    )
    profile = await profile_of(pg, customer_id)
    assert profile.sanctions_outcome in ("review", "alert") and not profile.frozen  # no DOB on the list
    await jobs.verify_identity(customer_id)  # the registry matches; the hit still holds them
    profile = await profile_of(pg, customer_id)
    assert (profile.tier, profile.iprs_status) == (0, "matched")
    async with pg() as session:
        alert = (await session.execute(select(Alert).where(Alert.customer_id == customer_id))).scalar_one()
    assert alert.source == "sanctions"
    [notice] = await issue12.notices_for(pg, customer_id)
    assert notice["code"] == "compliance.sms.identity_review"  # nothing that tips the customer off
