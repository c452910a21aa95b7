"""KYC "request more": a reviewer asks the customer for new photos. The profile leaves the queue
(t2_review more_requested) until a new photo arrives, the decision and its reason are audited, and
the customer gets an SMS in their own language through the Notifier port; the staff API does the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import kyc, notices
from compliance.models import KycProfile
from compliance.seed import ensure_defaults
from core import runtime as runtime_module
from core.audit.models import AuditEntry
from core.clock import FixedClock
from core.config import Settings
from core.i18n.catalog import translate
from core.identity.models import Customer
from core.outbox.models import OutboxJob
from core.runtime import Runtime
from tests.fakes.notifier import FakeNotifier
from tests.integration.compliance.helpers import add_customer
from tests.integration.identity.helpers import KEYRING
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in
from tests.integration.staff_portal.test_config_changes_api import _bearer
from webapp.queues import InProcessJobQueue

Factory = async_sessionmaker[AsyncSession]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def notifier(session_factory: Factory) -> Iterator[FakeNotifier]:
    fake = FakeNotifier()
    current = Runtime(
        settings=Settings(kibeti_env="test", at_shortcode="*483*1#"), session_factory=session_factory,
        clock=FixedClock(), queue=InProcessJobQueue(),
    )  # fmt: skip
    current.notifier = fake
    previous = runtime_module._current
    runtime_module.install(current)
    yield fake
    runtime_module._current = previous


async def _documents_waiting(factory: Factory, clock: FixedClock, customer_id: int) -> None:
    async with factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        customer = await add_customer(session, customer_id, clock.now(), kyc_tier=1)
        customer.language = "sw"
        session.add(
            KycProfile(
                customer_id=customer_id, tier=1, full_name="Baraka Mwangi", id_type="national_id",
                id_number=f"3456{customer_id:04d}", date_of_birth=date(1991, 4, 2), iprs_status="matched",
                t2_review="pending", created_at=clock.now(), updated_at=clock.now(),
            )
        )  # fmt: skip
        await session.commit()


async def _sms_jobs(factory: Factory, customer_id: int) -> list[dict[str, object]]:
    async with factory() as session:
        rows = (await session.scalars(select(OutboxJob).where(OutboxJob.job == notices.JOB))).all()
        return [r.kwargs for r in rows if r.kwargs["customer_id"] == customer_id]


async def test_reviewer_asks_for_new_photos(session_factory: Factory, notifier: FakeNotifier) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    await _documents_waiting(session_factory, clock, 601)
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, officer)
        detail = await client.get("/staff/kyc/601")
        assert 'value="more"' in detail.text
        token = csrf_of(detail.text)
        bare = await client.post("/staff/kyc/601/documents", data={"csrf_token": token, "decision": "more"})
        assert bare.status_code == 422 and 'aria-invalid="true"' in bare.text  # a reason code is needed
        asked = await client.post(
            "/staff/kyc/601/documents",
            data={"csrf_token": token, "decision": "more", "reason": "id_unreadable"},
        )
        assert asked.status_code == 303
        assert 'href="/staff/kyc/601"' not in (await client.get("/staff/kyc")).text  # waits for the customer
    async with session_factory() as session:
        profile = await session.get(KycProfile, 601)
        assert profile is not None and profile.t2_review == kyc.MORE_REQUESTED and profile.tier == 1
        audited = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "kyc.more_requested"))
        ).all()
        assert [a.details["reason"] for a in audited] == ["id_unreadable"]
    [job] = await _sms_jobs(session_factory, 601)
    assert job["code"] == kyc.MORE_SMS
    await notices.send_notice(**job)  # type: ignore[arg-type]
    [(phone, text, _ref)] = notifier.sent
    assert phone == "+254700000601" and text == translate(kyc.MORE_SMS, "sw", code="*483*1#")
    assert "picha mpya" in text
    async with session_factory() as session:  # new photos put the profile back in the queue
        for kind in ("id_front", "selfie"):
            await kyc.add_document(
                session=session, customer_id=601, kind=kind, content=PNG, keyring=KEYRING, now=clock.now()
            )
        await session.commit()
        profile = await session.get(KycProfile, 601, populate_existing=True)
        assert profile is not None and profile.t2_review == "pending"


async def test_request_more_over_the_staff_api(session_factory: Factory) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    support = await make_staff(session_factory, clock, "support")
    await _documents_waiting(session_factory, clock, 602)
    officer_auth, support_auth = (
        await _bearer(session_factory, clock, officer.id),
        await _bearer(session_factory, clock, support.id),
    )
    url = "/api/staff/compliance/customers/602/kyc-more"
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        assert (
            await client.post(url, headers=support_auth, json={"reason": "id_unreadable"})
        ).status_code == 403
        bad = await client.post(url, headers=officer_auth, json={"reason": "whatever"})
        assert bad.status_code == 422
        done = await client.post(url, headers=officer_auth, json={"reason": "selfie_mismatch"})
        assert done.status_code == 200 and done.json()["t2_review"] == "more_requested"
    assert len(await _sms_jobs(session_factory, 602)) == 1
    async with session_factory() as session:
        customer = await session.get(Customer, 602)
        assert customer is not None
