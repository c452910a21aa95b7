"""Compliance reason codes on the staff portal (the alerts desk, a case's movements) read as labels in
the viewer's language (en and sw) with the raw code shown beside them, which staff quote in reports;
a code with no label (a new one, or anything an old alert carries) is shown as it is, never a 500."""

from __future__ import annotations

from datetime import datetime

import pytest
from babel.messages.pofile import read_po
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import cases, reasons, reviews
from compliance.models import Movement
from core.clock import FixedClock
from core.i18n.catalog import LOCALE_DIR
from core.money import Asset
from core.ports import Decision
from tests.integration.compliance.helpers import add_customer
from tests.integration.staff_portal.portal_helpers import (
    csrf_of,
    make_staff,
    portal_client,
    sign_in,
    switch_language,
)
from webapp.web import i18n

Factory = async_sessionmaker[AsyncSession]
CUSTOMER = 611
UNKNOWN = "<new_reason>"  # no label; markup in it must stay text
REASON_CODES = [
    v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str) and k != "LANGUAGES"
] + [reviews.APPROVED, reviews.APPROVED_USED, reviews.REFUSED, reviews.EXPIRED, "payout_refused"]
LABELS = {
    "en": {
        "reason": "Not valued: no KES rate was ever stored, no limit checked <code>inbound_unvalued</code>",
        "decision": '<span title="review">Held for review</span>',
        "limit": "Above the tier&#39;s daily limit <code>limit_daily_exceeded</code>",
    },
    "sw": {
        "reason": "Haijathaminiwa: hakuna kiwango cha KES kilichowahi kuhifadhiwa, hakuna kikomo "
        "kilichokaguliwa <code>inbound_unvalued</code>",
        "decision": '<span title="review">Imezuiliwa kwa ukaguzi</span>',
        "limit": "Juu ya kikomo cha siku cha daraja <code>limit_daily_exceeded</code>",
    },
}


@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_reason_code_and_decision_has_a_label(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        found = {m.id: m.string for m in read_po(handle) if m.id}
    codes = [("reason", c) for c in REASON_CODES] + [("decision", d.value) for d in Decision]
    codes.append(("decision", "reversed"))
    for group, code in codes:
        assert found.get(f"staff.code.{group}.{code}"), (language, group, code)


async def _movement(session: AsyncSession, now: datetime, reason_code: str) -> Movement:
    row = Movement(
        customer_id=CUSTOMER, kind="deposit", asset=Asset.USDT_TRC20.value, amount_minor=500, amount_kes=0,
        decision=Decision.REVIEW.value, reason_code=reason_code, created_at=now,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def _held_alert(
    session: AsyncSession, now: datetime, key: str, reason_code: object, ids: list[int]
) -> int:
    alert = await cases.raise_alert(
        session=session, dedupe_key=key, customer_id=CUSTOMER, source="gate", rule_code="inbound_held",
        score=50, summary=f"held {key}", details={"reason_code": reason_code}, movement_ids=ids, now=now,
    )  # fmt: skip
    return alert.id


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_alerts_and_a_cases_movements_show_reason_labels_beside_their_codes(
    session_factory: Factory, language: str
) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    async with session_factory() as session:
        await add_customer(session, CUSTOMER, clock.now())
        known = await _movement(session, clock.now(), reasons.INBOUND_UNVALUED)
        unknown = await _movement(session, clock.now(), UNKNOWN)
        alert_id = await _held_alert(
            session, clock.now(), "known", reasons.INBOUND_UNVALUED, [known.id, unknown.id]
        )
        await _held_alert(session, clock.now(), "limit", reasons.LIMIT_DAILY, [])
        await _held_alert(session, clock.now(), "unknown", UNKNOWN, [])
        await _held_alert(session, clock.now(), "not-text", 7, [])  # an odd value in an old alert
        await session.commit()
    labels = LABELS[language]
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, officer)
        await switch_language(client, language)

        desk = await client.get("/staff/cases")
        assert desk.status_code == 200 and f'<html lang="{language}">' in desk.text, desk.text
        assert labels["reason"] in desk.text and labels["limit"] in desk.text
        assert "<code>&lt;new_reason&gt;</code>" in desk.text and "<code>7</code>" in desk.text
        assert "<new_reason>" not in desk.text

        opened = await client.post(
            f"/staff/alerts/{alert_id}/open-case", data={"csrf_token": csrf_of(desk.text)}
        )
        assert opened.status_code == 303
        case = await client.get(opened.headers["location"].split("?")[0])
        assert case.status_code == 200, case.text
        evidence = case.text.split(f"<h2>{i18n.text('staff.cases.movements', language)}</h2>", 1)[1]
        movements = evidence.split(f"<tr><td>{known.id}</td>", 1)[1].split("</tbody>", 1)[0]
        assert f"<td>{labels['decision']}</td><td>{labels['reason']}</td>" in movements
        assert f"<tr><td>{unknown.id}</td>" in movements
        assert f"<td>{labels['decision']}</td><td><code>&lt;new_reason&gt;</code></td>" in movements
