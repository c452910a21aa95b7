"""The JSON twin of the portal's configuration page (/api/staff/config): a finance user proposes a
fee rule, refused input is a 422 with a code, the maker cannot approve, an admin can."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import sessions
from core.auth.models import StaffUser
from core.clock import FixedClock
from core.fees import service as fees
from tests.integration.identity.helpers import SECRET_KEY
from tests.integration.staff_portal.portal_helpers import make_staff, portal_client

Factory = async_sessionmaker[AsyncSession]


async def _bearer(factory: Factory, clock: FixedClock, staff_id: int) -> dict[str, str]:
    async with factory() as session:
        staff = await session.get(StaffUser, staff_id)
        assert staff is not None
        pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_fee_change_over_the_api(session_factory: Factory) -> None:
    clock = FixedClock()
    finance = await make_staff(session_factory, clock, "finance")
    admin = await make_staff(session_factory, clock, "admin")
    async with session_factory() as session:
        await fees.seed_defaults(session=session)
        await session.commit()
    maker, checker = (
        await _bearer(session_factory, clock, finance.id),
        await _bearer(session_factory, clock, admin.id),
    )
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        bad = await client.post(
            "/api/staff/config/fee-changes",
            headers=maker,
            json={"kind": "withdrawal", "percent": "150", "reason": "x"},
        )
        assert bad.status_code == 422 and bad.json()["code"] == "config_change_invalid"
        proposed = await client.post(
            "/api/staff/config/fee-changes", headers=maker,
            json={"kind": "mpesa", "asset": "KES", "percent": "0", "fixed": "35", "currency": "KES", "reason": "tariff"},
        )  # fmt: skip
        assert proposed.status_code == 201, proposed.text
        change = proposed.json()
        assert change["previous"]["fixed"] == "30.00" and change["payload"]["fixed"] == "35"
        assert (
            await client.post(f"/api/staff/config/changes/{change['id']}/approve", headers=maker)
        ).status_code == 403
        approved = await client.post(f"/api/staff/config/changes/{change['id']}/approve", headers=checker)
        assert approved.status_code == 200 and approved.json()["applied_ref"].startswith("fee_rule:")
        again = await client.post(f"/api/staff/config/changes/{change['id']}/reject", headers=checker)
        assert again.status_code == 409
        listed = await client.get("/api/staff/config/changes?status=approved", headers=maker)
        assert [c["id"] for c in listed.json()] == [change["id"]]
