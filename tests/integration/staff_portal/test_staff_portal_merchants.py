"""Merchants in the portal: an admin creates one (errors beside the fields), activates it after the
screening the compliance gate runs, issues an API key shown once, revokes it, suspends the merchant."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth.models import ApiKey
from core.clock import FixedClock
from core.merchants.models import Merchant
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in

Factory = async_sessionmaker[AsyncSession]


class ClearScreening:
    """The compliance gate's business screening, answering "clear" (the port; the screening itself
    is tested in tests/integration/compliance)."""

    async def screen_business(self, *, session: Any, subject_ref: str, names: list[str]) -> str:
        return "clear"


async def test_create_activate_key_and_suspend(session_factory: Factory) -> None:
    clock = FixedClock()
    admin = await make_staff(session_factory, clock, "admin")
    async with portal_client(session_factory, clock) as (_app, client, runtime):
        runtime.compliance = ClearScreening()  # type: ignore[assignment]
        await sign_in(client, clock, admin)
        token = csrf_of((await client.get("/staff/merchants")).text)
        bad = await client.post(
            "/staff/merchants", data={"csrf_token": token, "name": "x", "settlement_method": "till"}
        )
        assert bad.status_code == 422 and 'id="e-name"' in bad.text
        created = await client.post(
            "/staff/merchants",
            data={"csrf_token": token, "name": "Mama Mboga Ltd", "kra_pin": "P051234567X", "directors": "Jane Mboga",
                  "settlement_method": "till", "settlement_till": "5551234", "fee_bps": "150"},
        )  # fmt: skip
        assert created.status_code == 303, created.text[:2000]
        url = created.headers["location"].split("?")[0]
        assert (await client.post(f"{url}/activate", data={"csrf_token": token})).status_code == 303
        issued = await client.post(
            f"{url}/keys",
            data={"csrf_token": token, "name": "shop", "scopes": ["payments:read", "payments:write"]},
        )
        plaintext = re.search(r"<code>(kbt_live_[^<]+)</code>", issued.text)
        assert plaintext, issued.text
        again = await client.get(url)
        assert plaintext.group(1) not in again.text  # shown once
        async with session_factory() as session:
            key = (await session.scalars(select(ApiKey))).one()
        assert (
            await client.post(f"{url}/keys/{key.key_id}/revoke", data={"csrf_token": token})
        ).status_code == 303
        suspended = await client.post(f"{url}/suspend", data={"csrf_token": token, "reason": "chargebacks"})
        assert suspended.status_code == 303
        audit = await client.get("/staff/audit?subject=merchant:")
        assert "merchant.activated" in audit.text and "merchant.suspended" in audit.text
    async with session_factory() as session:
        merchant = (await session.scalars(select(Merchant))).one()
        key = (await session.scalars(select(ApiKey))).one()
        assert merchant.status == "suspended" and key.revoked_at is not None
