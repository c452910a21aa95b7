"""The payouts desk shows a PesaPal refund accepted by PesaPal and waiting for approval on PesaPal's
dashboard as such (held, nothing debited), in English and Swahili, with the two-person release
labelled for it ("declined or never approved there"); checked from the desk while PesaPal's status
says Completed it stays accepted, and once approved (Reversed) it is booked once and leaves the list.
SQLite and PostgreSQL, through the app's test client."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FixedClock
from core.db.session import make_session_factory
from tests.integration.pesapal.test_refund_outcomes import Factory, Rail, _money, _paid, _refund
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in


async def test_an_accepted_refund_on_the_desk_waits_for_approval_in_both_languages(
    session_factory: Factory,
) -> None:
    clock = FixedClock()
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    factory = make_session_factory(engine, clock=clock)
    finance = await make_staff(factory, clock, "finance")
    paid, rail = await _paid(factory), Rail(answer="accept", approved=False)
    accepted = await _refund(factory, rail, paid)
    assert accepted.status == "accepted"
    async with portal_client(factory, clock) as (_app, client, runtime):
        runtime.collection_rails = {"pesapal": rail}
        await sign_in(client, clock, finance)
        page = await client.get("/staff/payouts")
        assert page.status_code == 200, page.text
        assert f"<td>{accepted.refund_id}</td><td>{paid.order_id}</td>" in page.text
        assert '<span title="accepted">Accepted by PesaPal, waiting for approval</span>' in page.text
        assert "waiting for approval on PesaPal&#39;s dashboard: approve it there" in page.text, page.text
        release = f'action="/staff/payouts/refunds/{accepted.refund_id}/release"'
        assert release in page.text
        assert "Declined or never approved on PesaPal&#39;s dashboard: release the hold" in page.text

        switched = await client.post(
            "/staff/language", data={"csrf_token": csrf_of(page.text), "language": "sw"}
        )
        assert switched.status_code == 303
        sw = await client.get("/staff/payouts")
        assert '<span title="accepted">Yamekubaliwa na PesaPal, yanasubiri idhini</span>' in sw.text
        assert "yanasubiri idhini kwenye dashibodi ya PesaPal" in sw.text

        token = csrf_of(sw.text)
        check = f"/staff/payouts/refunds/{accepted.refund_id}/check"
        assert (await client.post(check, data={"csrf_token": token})).status_code == 303
        assert '<span title="accepted">' in (await client.get("/staff/payouts")).text  # Completed: held
        assert await _money(factory, paid) == (Decimal("300.00"), Decimal("200.00"), Decimal("0.00"), 0)
        rail.approved = True  # approved on PesaPal's dashboard: Reversed
        assert (await client.post(check, data={"csrf_token": token})).status_code == 303
        assert f"<td>{accepted.refund_id}</td>" not in (await client.get("/staff/payouts")).text
    assert await _money(factory, paid) == (Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1)
    assert rail.sent == 1
