"""API keys only for merchants that exist: staff (merchants.manage) create merchants; a key for an
id that names no active merchant is refused (404), never issued."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import sessions
from core.auth.models import ApiKey, StaffUser
from core.clock import FixedClock
from core.merchants.models import Merchant
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import SECRET_KEY

Factory = async_sessionmaker[AsyncSession]


async def _token(factory: Factory, clock: FixedClock, role: str) -> dict[str, str]:
    async with factory() as session:
        staff = StaffUser(email=f"{role}@kibeti.test", role=role, password_hash="x", totp_secret="x",
                          last_totp_step=0, active=True, failed_logins=0, created_at=clock.now())  # fmt: skip
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_keys_only_for_existing_merchants(session_factory: Factory) -> None:
    clock = FixedClock()
    admin, finance = (
        await _token(session_factory, clock, "admin"),
        await _token(session_factory, clock, "finance"),
    )
    async with api_client(make_runtime(session_factory, clock)) as (_app, client):
        key = {"merchant_id": 9999, "name": "till", "scopes": ["payments:read"]}
        refused = await client.post("/api/staff/api-keys", json=key, headers=admin)
        assert refused.status_code == 404 and refused.json()["code"] == "merchant_not_found"
        assert (
            await client.post("/api/staff/merchants", json={"name": "Duka"}, headers=finance)
        ).status_code == 403
        assert (
            await client.post("/api/staff/merchants", json={"name": " "}, headers=admin)
        ).status_code == 422
        made = await client.post("/api/staff/merchants", json={"name": "Mama Mboga  Ltd"}, headers=admin)
        assert made.status_code == 201 and made.json()["name"] == "Mama Mboga Ltd"
        issued = await client.post(
            "/api/staff/api-keys", json={**key, "merchant_id": made.json()["id"]}, headers=admin
        )
        assert issued.status_code == 201, issued.text
        listed = await client.get("/api/staff/merchants", headers=admin)
        assert [m["id"] for m in listed.json()] == [made.json()["id"]]
    async with session_factory() as session:
        keys = (await session.execute(select(ApiKey.merchant_id))).scalars().all()
        assert keys == [made.json()["id"]]
        assert (await session.execute(select(func.count()).select_from(Merchant))).scalar_one() == 1
