"""The payouts desk's unknown payouts show how long each has been unknown (from unknown_since), not
since the last Transaction Status query moved updated_at; the long-unknown alert has its label in
English and Swahili. SQLite and PostgreSQL, through the app's test client."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.db.session import make_session_factory
from core.i18n.catalog import LOCALE_DIR
from core.payments import service
from tests.integration.payouts.test_unknown_since import _ask, _unknown_payout
from tests.integration.staff_portal.portal_helpers import make_staff, portal_client, sign_in
from webapp.api import payout_alerts


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_long_unknown_alert_has_a_label(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        found = {m.id: m.string for m in read_po(handle) if m.id}
    assert found.get(f"staff.code.rule.{payout_alerts.RULE}"), language


async def test_an_unknown_payout_shows_minutes_since_it_became_unknown(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    clock = FixedClock()
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    factory = make_session_factory(engine, clock=clock)
    finance = await make_staff(factory, clock, "finance")
    payout_id = await _unknown_payout(factory)
    clock.advance(minutes=44)
    assert await _ask(factory, payout_id, "q-1", "Pending") == "unknown"  # updated_at: now
    clock.advance(minutes=1)
    async with factory() as session:
        row = await service.get_payout(session=session, payout_id=payout_id)
        assert row.status == "unknown"
    async with portal_client(factory, clock) as (_app, client, _runtime):
        await sign_in(client, clock, finance)
        page = await client.get("/staff/payouts?state=unknown")
        assert page.status_code == 200, page.text
        assert f'<a href="/staff/payouts/{payout_id}">' in page.text
        assert "<td>45 min</td>" in page.text and "<td>1 min</td>" not in page.text
        done = await client.get("/staff/payouts?state=succeeded")  # no age column there
        assert done.status_code == 200 and "45 min" not in done.text
