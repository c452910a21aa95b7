"""Customers in the portal: search by phone, name or ID with personal data masked, an audited
reveal, lock/unlock by support, and the PIN reset only after the ID is re-checked."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.seed import ensure_defaults
from core.audit.models import AuditEntry
from core.clock import FixedClock
from core.identity.models import Customer
from core.ledger.models import Account
from core.ledger.types import AccountKind, OwnerType
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


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_a_wallet_in_an_unknown_asset_shows_as_stored_never_a_500(
    session_factory: Factory, language: str
) -> None:
    """A wallet row whose asset code no Asset has (a legacy "USDT_TRC20": bad data the ledger cannot
    read as money) shows its stored balance with a marker; the other wallets read as before."""
    clock = FixedClock()
    support = await make_staff(session_factory, clock, "support")
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await add_customer(session, 602, clock.now(), kyc_tier=1)
        for asset, minor in (("KES", 15000), ("USDT_TRC20", 2_500_000)):
            session.add(
                Account(
                    owner_type=OwnerType.CUSTOMER.value, owner_id=602, asset=asset,
                    kind=AccountKind.WALLET.value, constrained=True, balance=minor,
                )
            )  # fmt: skip
        await session.commit()
    marker = {
        "en": "(unknown asset: the amount as stored, in minor units)",
        "sw": "(rasilimali isiyojulikana: kiasi kama kilivyohifadhiwa, kwa vipimo vidogo)",
    }[language]
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, support)
        start = await client.get("/staff")
        await client.post("/staff/language", data={"csrf_token": csrf_of(start.text), "language": language})
        page = await client.get("/staff/customers/602")
        assert page.status_code == 200, page.text
        assert f'<html lang="{language}">' in page.text
        assert '<th scope="row">KES</th><td class="num">KES 150.00</td>' in page.text
        assert f'<th scope="row">USDT_TRC20</th><td class="num">USDT_TRC20 2500000 {marker}</td>' in page.text
