"""Merchants: created pending with a till code, screened (business and directors) before activation,
suspended with a reason; every staff move audited; bad input refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.gate import ComplianceGateService
from compliance.models import Alert
from compliance.sanctions import registry, store
from compliance.sanctions.loader import ListedEntity, SanctionsList
from core.audit.models import AuditEntry
from core.auth import api_keys, sessions
from core.auth.models import StaffUser
from core.clock import FixedClock
from core.merchants import service as merchants
from core.merchants.errors import InvalidMerchant, MerchantNotActive, TillCodeTaken, UnknownMerchant
from core.merchants.models import Merchant
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import SECRET_KEY

Factory = async_sessionmaker[AsyncSession]
LISTED_DIRECTOR = "Grace Akinyi Odhiambo"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    registry.clear()


async def _load_list(factory: Factory) -> None:
    lists = SanctionsList.from_entities(
        [ListedEntity(source="ofac", source_id="99001", name=LISTED_DIRECTOR)]
    )
    async with factory() as session, session.begin():
        await store.save_version(session=session, lists=lists, loaded_by="test")


def _details() -> dict[str, object]:
    return {
        "kra_pin": "p051234567x",
        "registration_number": "PVT-AB12CD",
        "directors": ["Wanjiku  Mwangi"],
        "contact_phone": "0712 345 678",
        "settlement_method": "paybill",
        "settlement_paybill": "247247",
        "settlement_account": "0711223344",
    }


async def test_create_activate_suspend(session_factory: Factory, clock: FixedClock) -> None:
    await _load_list(session_factory)
    gate = ComplianceGateService(session_factory=session_factory, clock=clock)
    async with session_factory() as session, session.begin():
        made = await merchants.create_merchant(
            session=session, name="Mama  Mboga Ltd", actor="staff:1", clock=clock, **_details()
        )
        assert made.status == "pending" and made.kra_pin == "P051234567X" and made.fee_bps == 150
        assert made.directors == ["Wanjiku Mwangi"] and made.notification_phones == ["+254712345678"]
        assert made.till_code is not None and len(made.till_code) == 6
        assert (await merchants.get_by_till_code(session=session, till_code=made.till_code)).id == made.id
        with pytest.raises(MerchantNotActive):
            await merchants.require_active(session=session, merchant_id=made.id)
        result = await merchants.activate_merchant(
            session=session, merchant_id=made.id, actor="staff:1", clock=clock, compliance=gate
        )
        assert result.activated and result.screening == "clear"
        assert (await merchants.require_active(session=session, merchant_id=made.id)).id == made.id
        suspended = await merchants.suspend_merchant(
            session=session, merchant_id=made.id, actor="staff:1", clock=clock, reason="chargebacks"
        )
        assert suspended.status == "suspended" and not suspended.active
        with pytest.raises(MerchantNotActive):
            await api_keys.create_api_key(
                session=session,
                merchant_id=made.id,
                scopes=["invoices:read"],
                name="k",
                clock=clock,
                actor="t",
            )
        actions = (await session.execute(select(AuditEntry.action).order_by(AuditEntry.seq))).scalars().all()
        assert [a for a in actions if a.startswith("merchant.")] == [
            "merchant.created",
            "merchant.activated",
            "merchant.suspended",
        ]


async def test_listed_director_holds_activation(session_factory: Factory, clock: FixedClock) -> None:
    await _load_list(session_factory)
    gate = ComplianceGateService(session_factory=session_factory, clock=clock)
    async with session_factory() as session, session.begin():
        made = await merchants.create_merchant(
            session=session,
            name="Odhiambo Traders",
            actor="staff:1",
            clock=clock,
            **{**_details(), "directors": [LISTED_DIRECTOR]},
        )
        result = await merchants.activate_merchant(
            session=session, merchant_id=made.id, actor="staff:1", clock=clock, compliance=gate
        )
        assert not result.activated and result.screening in ("review", "alert", "block")
        assert made.status == "pending"
    async with session_factory() as session:
        assert (await session.execute(select(func.count()).select_from(Alert))).scalar_one() >= 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kra_pin", "12345"),
        ("fee_bps", 250),
        ("fee_bps", 99),
        ("contact_phone", "not a phone"),
        ("settlement_account", ""),
        ("payment_tolerance_bps", -1),
        ("invoice_expiry_minutes", 0),
        ("language", "fr"),
        ("till_code", "012345"),
        ("settlement_minimum", "10.005"),
    ],
)
async def test_bad_input_writes_nothing(
    session_factory: Factory, clock: FixedClock, field: str, value: object
) -> None:
    async with session_factory() as session:
        with pytest.raises(InvalidMerchant):
            await merchants.create_merchant(
                session=session, name="Duka", actor="t", clock=clock, **{**_details(), field: value}
            )
        await session.rollback()
        assert (await session.execute(select(func.count()).select_from(Merchant))).scalar_one() == 0


async def test_till_code_unique_and_lookup(session_factory: Factory, clock: FixedClock) -> None:
    async with session_factory() as session, session.begin():
        await merchants.create_merchant(
            session=session, name="Duka A", actor="t", clock=clock, till_code="123456"
        )
        with pytest.raises(TillCodeTaken):
            await merchants.create_merchant(
                session=session, name="Duka B", actor="t", clock=clock, till_code="123456"
            )
        with pytest.raises(UnknownMerchant):
            await merchants.get_by_till_code(session=session, till_code="654321")
        with pytest.raises(UnknownMerchant):
            await merchants.get_merchant(session=session, merchant_id=999)


async def _staff_token(factory: Factory, clock: FixedClock, role: str) -> dict[str, str]:
    async with factory() as session:
        staff = StaffUser(email=f"{role}@kibeti.test", role=role, password_hash="x", totp_secret="x",
                          last_totp_step=0, active=True, failed_logins=0, created_at=clock.now())  # fmt: skip
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_staff_api(session_factory: Factory, clock: FixedClock) -> None:
    await _load_list(session_factory)
    admin = await _staff_token(session_factory, clock, "admin")
    runtime = make_runtime(session_factory, clock)
    runtime.compliance = ComplianceGateService(session_factory=session_factory, clock=clock)
    async with api_client(runtime) as (_app, client):
        bad = await client.post("/api/staff/merchants", json={"name": "Duka", "fee_bps": 500}, headers=admin)
        assert bad.status_code == 422
        no_pin = await client.post("/api/staff/merchants", json={"name": "Duka"}, headers=admin)
        assert no_pin.status_code == 201 and no_pin.json()["status"] == "pending"
        refused = await client.post(f"/api/staff/merchants/{no_pin.json()['id']}/activate", headers=admin)
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_merchant"
        made = await client.post(
            "/api/staff/merchants", json={"name": "Kiosk Ltd", **_details()}, headers=admin
        )
        assert made.status_code == 201, made.text
        merchant_id = made.json()["id"]
        active = await client.post(f"/api/staff/merchants/{merchant_id}/activate", headers=admin)
        assert active.status_code == 200 and active.json()["status"] == "active", active.text
        shown = await client.get(f"/api/staff/merchants/{merchant_id}", headers=admin)
        assert shown.json()["settlement_paybill"] == "247247" and shown.json()["screening_outcome"] == "clear"
        listed = await client.get("/api/staff/merchants?status=active", headers=admin)
        assert [m["id"] for m in listed.json()] == [merchant_id]
        missing = await client.get("/api/staff/merchants/99999", headers=admin)
        assert missing.status_code == 404 and missing.json()["code"] == "merchant_not_found"
        stopped = await client.post(
            f"/api/staff/merchants/{merchant_id}/suspend", json={"reason": "fraud review"}, headers=admin
        )
        assert stopped.status_code == 200 and stopped.json()["status"] == "suspended"
        review = await client.get("/api/staff/invoices/needs-review", headers=admin)
        assert review.status_code == 200 and review.json() == []
