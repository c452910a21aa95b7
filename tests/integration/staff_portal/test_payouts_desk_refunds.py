"""The payouts desk shows PesaPal refunds not settled (being sent, or unknown with the amount held):
state, amount, age, status checks and what next, in English and Swahili; "check with PesaPal now"
asks the transaction status (a made refund is booked once, never sent again) and is audited; a
status answer that could not be read books nothing and the desk says so (its own notice: try again
in a few minutes or check PesaPal's dashboard), not the plain "checked" one.
SQLite and PostgreSQL, through the app's test client."""

from __future__ import annotations

from dataclasses import dataclass
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
from core.ports import CollectionResult
from core.rails import refund_requests, refunds
from core.rails.errors import RailAnswerUnreadable
from core.rails.refunds import OPEN_REFUND, RefundStatus
from tests.integration.pesapal.test_refund_outcomes import Factory, Paid, Rail, _money, _paid, _refund
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in

HELD = (Decimal("300.00"), Decimal("200.00"), Decimal("0.00"), 0)  # balance, available, refunded, entries


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def factory(session_factory: Factory, clock: FixedClock) -> Factory:
    """Sessions on the test's database (SQLite or PostgreSQL) dated by `clock`."""
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return make_session_factory(engine, clock=clock)


async def _open_refund(
    factory: Factory, rail: Rail, amount: str = "100"
) -> tuple[Paid, refund_requests.RefundOutcome]:
    """A paid PesaPal order (KES 300) and a staff refund of `amount` asked of `rail`."""
    paid = await _paid(factory)
    return paid, await _refund(factory, rail, paid, amount)


@dataclass
class UnreadableRail(Rail):
    """PesaPal whose transaction status answer cannot be read (what the adapter raises for one that
    is not PesaPal's documented object) while `unreadable`; as `Rail` otherwise."""

    unreadable: bool = True

    async def collection_status(self, *, provider_reference: str) -> CollectionResult:
        if not self.unreadable:
            return await super().collection_status(provider_reference=provider_reference)
        self.asked += 1
        raise RailAnswerUnreadable("PesaPal status: the answer could not be read (None)")


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
    factory: Factory, clock: FixedClock
) -> None:
    finance = await make_staff(factory, clock, "finance")
    rail = Rail(answer="lost_made", status_fails=True)
    paid, unknown = await _open_refund(factory, rail, "100.50")
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


async def test_a_support_user_sees_refunds_without_the_check_button(
    factory: Factory, clock: FixedClock
) -> None:
    support = await make_staff(factory, clock, "support")
    rail = Rail(answer="lost", status_fails=True)
    _, unknown = await _open_refund(factory, rail)
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


async def test_two_staff_release_an_unknown_refund_from_the_desk(factory: Factory, clock: FixedClock) -> None:
    """ "PesaPal has no such refund: release the hold": proposed by one finance member (nothing released),
    who cannot confirm it; a second one confirms; the hold is voided once; audited as each."""
    maker = await make_staff(factory, clock, "finance")
    clock.advance(seconds=5)
    checker = await make_staff(factory, clock, "finance")
    rail = Rail(answer="lost")
    paid, unknown = await _open_refund(factory, rail)
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
        assert await _money(factory, paid) == HELD

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


async def test_an_unreadable_status_answer_gets_its_own_notice_and_books_nothing(
    factory: Factory, clock: FixedClock
) -> None:
    """PesaPal made the refund but its answer was lost; asked from the desk, its status answer cannot
    be read: nothing is booked or released (still held, still listed) and the desk says so in the
    viewer's language, not "checked". Once the status reads, the normal notice, booked once."""
    finance = await make_staff(factory, clock, "finance")
    rail = UnreadableRail(answer="lost_made")
    paid, unknown = await _open_refund(factory, rail)
    assert unknown.status == "unknown" and await _money(factory, paid) == HELD
    check = f"/staff/payouts/refunds/{unknown.refund_id}/check"
    async with portal_client(factory, clock) as (_app, client, runtime):
        runtime.collection_rails = {"pesapal": rail}
        await sign_in(client, clock, finance)
        token = csrf_of((await client.get("/staff/payouts")).text)

        asked = await client.post(check, data={"csrf_token": token})
        assert asked.status_code == 303, asked.text
        assert asked.headers["location"].endswith("notice=staff.notice.refund_status_unreadable")
        page = await client.get(asked.headers["location"])
        assert page.status_code == 200, page.text
        assert "PesaPal&#39;s answer could not be read, so nothing was changed" in page.text
        assert "Try again in a few minutes, or check the refund on PesaPal&#39;s dashboard." in page.text
        assert "PesaPal&#39;s status was asked" not in page.text  # not the plain "checked" notice
        assert f'action="{check}"' in page.text  # still open, still listed
        assert rail.asked == 1 and await _money(factory, paid) == HELD  # nothing booked or released

        switched = await client.post("/staff/language", data={"csrf_token": token, "language": "sw"})
        assert switched.status_code == 303
        again = await client.post(check, data={"csrf_token": token})
        sw = await client.get(again.headers["location"])
        assert "Jibu la PesaPal halikuweza kusomeka, kwa hiyo hakuna kilichobadilishwa" in sw.text
        assert "Jaribu tena baada ya dakika chache" in sw.text
        assert rail.asked == 2 and await _money(factory, paid) == HELD

        rail.unreadable = False  # PesaPal's status reads again: Reversed, booked once, plain notice
        done = await client.post(check, data={"csrf_token": token})
        assert done.headers["location"].endswith("notice=staff.notice.refund_checked")
        assert f'action="{check}"' not in (await client.get(done.headers["location"])).text
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=unknown.refund_id)
    assert row.status == RefundStatus.REFUNDED.value and row.checks == 3
    assert rail.sent == 1 and await _money(factory, paid) == (
        Decimal("200.00"), Decimal("200.00"), Decimal("100.00"), 1
    )  # fmt: skip
