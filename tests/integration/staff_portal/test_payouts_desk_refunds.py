"""The payouts desk shows PesaPal refunds not settled (being sent, or unknown with the amount held):
state, amount, age, status checks and what next, in English and Swahili; "check with PesaPal now"
asks the transaction status (a made refund is booked once, never sent again) and is audited.
SQLite and PostgreSQL, through the app's test client."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.models import AuditEntry
from core.audit.service import chain_pending
from core.clock import FixedClock
from core.db.session import make_session_factory
from core.i18n.catalog import LOCALE_DIR
from core.rails import refunds
from core.rails.refunds import OPEN_REFUND, RefundStatus
from tests.integration.pesapal.test_refund_outcomes import Factory, Rail, _money, _paid, _refund
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in


@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_refund_state_has_a_label(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        found = {m.id: m.string for m in read_po(handle) if m.id}
    for status in RefundStatus:
        assert found.get(f"staff.code.refund.{status.value}"), (language, status)
    for open_status in OPEN_REFUND:  # what next, for the open ones the desk lists
        assert found.get(f"staff.payouts.refund_next.{open_status}"), (language, open_status)
    for kind in (refunds.CASE_SHORT, refunds.CASE_LONG_UNKNOWN, refunds.CASE_AWAITING_APPROVAL,
                 refunds.CASE_ACCEPTED_AFTER_RELEASE, refunds.CASE_REVERSED_AFTER_PARTIAL):  # fmt: skip
        assert found.get(f"staff.code.rule.{kind}"), (language, kind)  # the alerts table's label


async def test_open_refunds_on_the_desk_in_both_languages_and_checked_from_there(
    session_factory: Factory,
) -> None:
    clock = FixedClock()
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    factory = make_session_factory(engine, clock=clock)
    finance = await make_staff(factory, clock, "finance")
    paid, rail = await _paid(factory), Rail(answer="lost_made", status_fails=True)
    unknown = await _refund(factory, rail, paid, "100.50")
    assert unknown.status == "unknown"
    clock.advance(seconds=17 * 60)
    async with portal_client(factory, clock) as (_app, client, runtime):
        runtime.collection_rails = {"pesapal": rail}
        await sign_in(client, clock, finance)
        page = await client.get("/staff/payouts")
        assert page.status_code == 200, page.text
        assert "PesaPal refunds not settled" in page.text
        assert f"<td>{unknown.refund_id}</td><td>{paid.order_id}</td>" in page.text
        assert '<span title="unknown">Unknown: being checked</span>' in page.text
        assert "KES 100.50" in page.text and "17 min" in page.text
        assert "Outcome unknown: held while we ask PesaPal" in page.text
        check = f'action="/staff/payouts/refunds/{unknown.refund_id}/check"'
        assert check in page.text and "Check with PesaPal now" in page.text

        switched = await client.post(
            "/staff/language", data={"csrf_token": csrf_of(page.text), "language": "sw"}
        )
        assert switched.status_code == 303
        sw = await client.get("/staff/payouts")
        assert '<html lang="sw">' in sw.text and "Marejesho ya PesaPal ambayo hayajakamilika" in sw.text
        assert '<span title="unknown">Haijulikani: inakaguliwa</span>' in sw.text
        assert "KES 100.50" in sw.text and "Dakika 17" in sw.text and "Uliza PesaPal sasa" in sw.text

        token = csrf_of(sw.text)
        still = await client.post(
            f"/staff/payouts/refunds/{unknown.refund_id}/check", data={"csrf_token": token}
        )
        assert still.status_code == 303 and "notice=staff.notice.refund_checked" in still.headers["location"]
        assert rail.asked == 1 and check in (await client.get("/staff/payouts")).text  # still unknown
        rail.status_fails = False
        done = await client.post(
            f"/staff/payouts/refunds/{unknown.refund_id}/check", data={"csrf_token": token}
        )
        assert done.status_code == 303
        after = await client.get("/staff/payouts")
        assert check not in after.text  # settled: booked once, off the list
        missing = await client.post("/staff/payouts/refunds/999999/check", data={"csrf_token": token})
        assert missing.status_code == 404
    assert rail.sent == 1 and rail.asked == 2
    assert await _money(factory, paid) == (Decimal("199.50"), Decimal("199.50"), Decimal("100.50"), 1)
    async with factory() as session:
        await chain_pending(session=session)
        await session.commit()
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.subject == f"rail_refund:{unknown.refund_id}")
            .order_by(AuditEntry.seq)
        )
        assert rows.all()[-1] == ("rail.refund_refunded", f"staff:{finance.id}")  # audited, by whom


async def test_a_support_user_sees_refunds_without_the_check_button(session_factory: Factory) -> None:
    clock = FixedClock()
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    factory = make_session_factory(engine, clock=clock)
    support = await make_staff(factory, clock, "support")
    paid, rail = await _paid(factory), Rail(answer="lost", status_fails=True)
    unknown = await _refund(factory, rail, paid)
    async with portal_client(factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, support)
        page = await client.get("/staff/payouts")
        assert f"<td>{unknown.refund_id}</td>" in page.text
        assert f"/staff/payouts/refunds/{unknown.refund_id}/check" not in page.text
        token = csrf_of(page.text)
        denied = await client.post(
            f"/staff/payouts/refunds/{unknown.refund_id}/check", data={"csrf_token": token}
        )
        assert denied.status_code == 403
    assert rail.asked == 0


async def test_two_staff_release_an_unknown_refund_from_the_desk(session_factory: Factory) -> None:
    """ "PesaPal has no such refund: release the hold": proposed by one finance member (nothing released),
    who cannot confirm it; a second one confirms; the hold is voided once; audited as each."""
    clock = FixedClock()
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    factory = make_session_factory(engine, clock=clock)
    maker = await make_staff(factory, clock, "finance")
    clock.advance(seconds=5)
    checker = await make_staff(factory, clock, "finance")
    paid, rail = await _paid(factory), Rail(answer="lost")
    unknown = await _refund(factory, rail, paid)
    release = f"/staff/payouts/refunds/{unknown.refund_id}/release"
    async with portal_client(factory, clock) as (_app, client, runtime):
        runtime.collection_rails = {"pesapal": rail}
        await sign_in(client, clock, maker)
        page = await client.get("/staff/payouts")
        assert (
            f'action="{release}"' in page.text and "PesaPal has no such refund: release the hold" in page.text
        )
        token = csrf_of(page.text)
        short = await client.post(release, data={"csrf_token": token, "reason": "none"})
        assert short.status_code == 422
        proposed = await client.post(
            release, data={"csrf_token": token, "reason": "no refund on PesaPal's dashboard"}
        )
        assert proposed.status_code == 303, proposed.text
        assert "notice=staff.notice.refund_release_proposed" in proposed.headers["location"]
        mine = await client.get("/staff/payouts")
        assert f"Release proposed by staff:{maker.id}: no refund on PesaPal&#39;s dashboard" in mine.text
        assert "Waiting for a second staff member to confirm." in mine.text
        assert f'action="{release}/confirm"' not in mine.text
        own = await client.post(f"{release}/confirm", data={"csrf_token": token})
        assert own.status_code == 422 and "A different staff member must confirm" in own.text
        assert await _money(factory, paid) == (Decimal("300.00"), Decimal("200.00"), Decimal("0.00"), 0)

        client.cookies.clear()
        await sign_in(client, clock, checker)
        theirs = await client.get("/staff/payouts")
        assert f'action="{release}/confirm"' in theirs.text
        done = await client.post(f"{release}/confirm", data={"csrf_token": csrf_of(theirs.text)})
        assert done.status_code == 303 and "notice=staff.notice.refund_released" in done.headers["location"]
        after = await client.get("/staff/payouts")
        assert f'action="{release}' not in after.text  # settled: off the list
        again = await client.post(f"{release}/confirm", data={"csrf_token": csrf_of(after.text)})
        assert again.status_code == 422 and "no hold to release" in again.text
    assert await _money(factory, paid) == (Decimal("300.00"), Decimal("300.00"), Decimal("0.00"), 0)
    assert rail.sent == 1
    async with factory() as session:
        await chain_pending(session=session)
        await session.commit()
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor).where(
                AuditEntry.subject == f"rail_refund:{unknown.refund_id}"
            )
        )
        found = set(rows.all())
    assert ("rail.refund_release_proposed", f"staff:{maker.id}") in found
    assert ("rail.refund_not_refunded", f"staff:{checker.id}") in found
