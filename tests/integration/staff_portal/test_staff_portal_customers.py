"""Customers in the portal: search by phone, name or ID with personal data masked, an audited
reveal, lock/unlock by support, and the PIN reset only after the ID is re-checked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.seed import ensure_defaults
from core.audit.models import AuditEntry
from core.clock import FixedClock
from core.identity.models import Customer
from tests.fakes.notifier import FakeNotifier
from tests.integration.compliance.helpers import add_customer
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in

Factory = async_sessionmaker[AsyncSession]


async def test_search_mask_reveal_lock_and_reset(session_factory: Factory) -> None:
    clock = FixedClock()
    support = await make_staff(session_factory, clock, "support")
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        customer = await add_customer(session, 601, clock.now(), kyc_tier=1)
        customer.name, customer.national_id = "Amina Wanjiru", "12345678"
        await session.commit()
    async with portal_client(session_factory, clock) as (_app, client, runtime):
        runtime.notifier = FakeNotifier()
        await sign_in(client, clock, support)
        for query in ("0700000601", "Amina", "amina WAN", "12345678"):
            found = await client.get("/staff/customers", params={"q": query})
            assert 'href="/staff/customers/601"' in found.text, query
            assert "Amina Wanjiru" not in found.text and "A*** W***" in found.text
        for query in ("Amina' OR '1'='1", "A%", "_mina"):  # the prefix is rendered inline: quoted, escaped
            found = await client.get("/staff/customers", params={"q": query})
            assert found.status_code == 200 and 'href="/staff/customers/601"' not in found.text, query
        page = await client.get("/staff/customers/601")
        assert "Amina Wanjiru" not in page.text and "12345678" not in page.text
        token = csrf_of(page.text)
        revealed = await client.post("/staff/customers/601/reveal", data={"csrf_token": token})
        assert "Amina Wanjiru" in revealed.text and "12345678" in revealed.text
        locked = await client.post(
            "/staff/customers/601/status", data={"csrf_token": token, "status": "suspended"}
        )
        assert locked.status_code == 303
        refused = await client.post("/staff/customers/601/reset-pin", data={"csrf_token": token})
        assert refused.status_code == 422 and 'id="e-kyc_rechecked"' in refused.text
        reset = await client.post(
            "/staff/customers/601/reset-pin", data={"csrf_token": token, "kyc_rechecked": "yes"}
        )
        assert reset.status_code == 303
        assert runtime.notifier.sent  # the one-time code went by SMS
    async with session_factory() as session:
        row = await session.get(Customer, 601)
        assert row is not None and row.status == "suspended" and row.pin_reset_pending
        actions = set((await session.scalars(select(AuditEntry.action))).all())
        assert {"customer.pii_revealed", "customer.status", "pin.reset_started"} <= actions
