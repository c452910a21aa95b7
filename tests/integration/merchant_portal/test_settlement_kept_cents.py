"""The merchant's settlements page explains the cents M-Pesa did not pay (whole shillings only): a
"Kept for next settlement" column and a note, and a settlement that paid earlier kept cents says so
(and what it kept in turn).
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from core.runtime import Runtime
from core.settlements.models import MerchantCredit, Settlement
from tests.integration.merchant_portal.test_merchant_dashboard import _client, _invite, _merchant, _sign_in
from tests.integration.merchant_portal.test_merchant_dashboard import rt as rt

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


async def test_the_settlements_page_shows_what_was_kept_for_next_time(rt: Runtime) -> None:
    merchant_id = await _merchant(rt, "Duka la Mama")
    viewer = await _invite(rt, merchant_id, "viewer@mama.test", "viewer")
    async with rt.session_factory() as session, session.begin():
        for number, (net, paid) in enumerate([(280_075, 280_000), (9_950, 10_000)], start=1):
            session.add(
                Settlement(
                    merchant_id=merchant_id,
                    idempotency_key=f"settlement:{merchant_id}:{number}",
                    status="paid",
                    method="till",
                    destination="5551234",
                    account_reference="",
                    gross_minor=net,
                    fee_minor=0,
                    refunds_minor=0,
                    amount_minor=paid,
                    payout_id=f"p{number}",
                    receipt=f"SKL{number}",
                    failure="",
                    created_at=AT,
                )
            )
            await session.flush()
            session.add(
                MerchantCredit(
                    merchant_id=merchant_id, source="invoice", source_ref=f"{number}", reference=f"INV-{number}",
                    payer="", gross_minor=net, fee_minor=0, net_minor=net, entry_id=1, created_at=AT,
                    settlement_id=(await session.execute(select(func.max(Settlement.id)))).scalar_one(),
                )
            )  # fmt: skip
    async with _client(rt) as client:
        await _sign_in(client, viewer)
        page = await client.get("/merchant/settlements")
    assert page.status_code == 200
    assert "Kept for next settlement" in page.text and "M-Pesa pays whole shillings" in page.text
    assert '<td class="num">KES 0.75</td>' in page.text
    # the second paid 100.00 of 99.50 + the 0.75 kept before, and keeps 0.25 in turn
    assert '<td class="num">KES 0.25; includes KES 0.75 kept earlier</td>' in page.text
