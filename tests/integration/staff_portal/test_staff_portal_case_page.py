"""A case page (/staff/cases/{id}) in en and sw: a movement stored with an asset code no Asset has (a
legacy "USDT_TRC20", bad data) shows its raw minor amount and code with a marker, logged once, and the
rest of the page stays (never a 500); the alerts in the case are listed, each with its rule, reason
label, status, time and a link to it on the alerts desk."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from compliance import cases, reasons
from compliance.models import Movement
from core.clock import FixedClock
from core.money import Asset
from core.ports import Decision
from tests.integration.compliance.helpers import add_customer
from tests.integration.staff_portal.portal_helpers import (
    make_staff,
    portal_client,
    sign_in,
    switch_language,
)
from webapp.web import i18n

Factory = async_sessionmaker[AsyncSession]
AlertSpec = tuple[str, str, dict[str, object], list[int]]
CUSTOMER = 612
TEXTS = {
    "en": {
        "legacy": "USDT_TRC20 2500000 (unknown asset: the amount as stored, in minor units)",
        "odd": "DOGE&lt;1&gt; 7 (unknown asset: the amount as stored, in minor units)",
        "good": "USDT-TRC20 1.50",
        "kes": "KES 150.00",
        "history": "History",
        "movements": "Movements (evidence)",
        "alerts": "Alerts in this case",
        "velocity": '<span title="velocity">Many movements in a short time</span>',
        "held": '<span title="inbound_held">Incoming money held</span>',
        "limit": "Above the tier&#39;s daily limit <code>limit_daily_exceeded</code>",
        "in_case": '<span title="in_case">In a case</span>',
        "desk": "On the alerts desk",
    },
    "sw": {
        "legacy": "USDT_TRC20 2500000 (rasilimali isiyojulikana: kiasi kama kilivyohifadhiwa, kwa vipimo vidogo)",
        "odd": "DOGE&lt;1&gt; 7 (rasilimali isiyojulikana: kiasi kama kilivyohifadhiwa, kwa vipimo vidogo)",
        "good": "USDT-TRC20 1.50",
        "kes": "KES 150.00",
        "history": "Historia",
        "movements": "Miamala (ushahidi)",
        "alerts": "Tahadhari za kesi hii",
        "velocity": '<span title="velocity">Miamala mingi kwa muda mfupi</span>',
        "held": '<span title="inbound_held">Pesa zinazoingia zimezuiliwa</span>',
        "limit": "Juu ya kikomo cha siku cha daraja <code>limit_daily_exceeded</code>",
        "in_case": '<span title="in_case">Iko kwenye kesi</span>',
        "desk": "Kwenye dawati la tahadhari",
    },
}


async def _movement(session: AsyncSession, now: datetime, asset: str, minor: int) -> int:
    row = Movement(
        customer_id=CUSTOMER, kind="deposit", asset=asset, amount_minor=minor, amount_kes=15000,
        decision=Decision.REVIEW.value, reason_code=reasons.INBOUND_UNVALUED, created_at=now,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row.id


async def _alert(
    session: AsyncSession, now: datetime, key: str, rule: str, details: dict[str, object], ids: list[int]
) -> int:
    alert = await cases.raise_alert(
        session=session, dedupe_key=key, customer_id=CUSTOMER, source="gate", rule_code=rule,
        score=40, summary=f"summary {key}", details=details, movement_ids=ids, now=now,
    )  # fmt: skip
    return alert.id


async def _case(factory: Factory, clock: FixedClock, alerts: list[AlertSpec]) -> int:
    async with factory() as session:
        ids = [await _alert(session, clock.now(), *spec) for spec in alerts]
        case = await cases.open_case(
            session=session, title="case under test", actor="staff:1", now=clock.now(), alert_ids=ids
        )
        await session.commit()
        return case.id


def _table_after(html: str, heading: str) -> str:
    assert f"<h2>{heading}</h2>" in html, heading
    return html.split(f"<h2>{heading}</h2>", 1)[1].split("</table>", 1)[0]


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_a_movement_in_an_unknown_asset_shows_as_stored_with_a_marker(
    session_factory: Factory, language: str
) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    async with session_factory() as session:
        await add_customer(session, CUSTOMER, clock.now())
        ids = [
            await _movement(session, clock.now(), "USDT_TRC20", 2_500_000),  # legacy spelling
            await _movement(session, clock.now(), Asset.USDT_TRC20.value, 1_500_000),
            await _movement(session, clock.now(), "DOGE<1>", 7),  # markup in it stays text
        ]
        await session.commit()
    case_id = await _case(session_factory, clock, [("odd", "inbound_held", {}, ids)])
    texts = TEXTS[language]
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, officer)
        await switch_language(client, language)
        with capture_logs() as logs:
            page = await client.get(f"/staff/cases/{case_id}")
        assert page.status_code == 200, page.text
        assert f'<html lang="{language}">' in page.text
        movements = _table_after(page.text, texts["movements"])
        rows = {i: movements.split(f"<tr><td>{i}</td>", 1)[1].split("</tr>", 1)[0] for i in ids}
        assert f'<td class="num">{texts["legacy"]}</td><td class="num">{texts["kes"]}</td>' in rows[ids[0]]
        assert f'<td class="num">{texts["good"]}</td><td class="num">{texts["kes"]}</td>' in rows[ids[1]]
        assert f'<td class="num">{texts["odd"]}</td>' in rows[ids[2]] and "DOGE<1>" not in page.text
        assert f"<h2>{texts['history']}</h2>" in page.text and "</html>" in page.text  # the rest is there
    shown_as_stored = [e for e in logs if e.get("event") == "money_shown_as_stored"]
    assert len(shown_as_stored) == 1, logs  # two odd rows, one warning for the page
    assert shown_as_stored[0]["log_level"] == "warning"
    assert shown_as_stored[0]["asset"] == "USDT_TRC20"


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_a_case_lists_its_alerts_with_labels_and_desk_links(
    session_factory: Factory, language: str
) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    async with session_factory() as session:
        await add_customer(session, CUSTOMER, clock.now())
        await session.commit()
    case_id = await _case(
        session_factory,
        clock,
        [
            ("velocity", "velocity", {}, []),
            ("held", "inbound_held", {"reason_code": reasons.LIMIT_DAILY}, []),
        ],
    )
    async with session_factory() as session:
        detail = await cases.case_detail(session=session, case_id=case_id)
        first, second = sorted(a.id for a in detail.alerts)
    created = i18n.when(clock.now(), language)  # when the alerts were raised (signing in moves the clock)
    texts = TEXTS[language]
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, officer)
        await switch_language(client, language)
        page = await client.get(f"/staff/cases/{case_id}")
        assert page.status_code == 200, page.text
        listed = _table_after(page.text, texts["alerts"])
        for alert_id, rule, reason, key in (
            (first, texts["velocity"], "–", "velocity"),
            (second, texts["held"], texts["limit"], "held"),
        ):
            row = listed.split(f"<tr><td>{alert_id}</td>", 1)[1].split("</tr>", 1)[0]
            link = f"/staff/cases?alert_status=in_case&abefore={alert_id + 1}#alert-{alert_id}"
            assert row.startswith(
                f"<td>{rule}</td><td>{reason}</td><td>summary {key}</td><td>{texts['in_case']}</td>"
                f"<td>{created}</td>"
            ), row
            assert f'<a href="{link}">{texts["desk"]}</a>' in row

            desk = await client.get(link.split("#", 1)[0])  # the link finds the alert on the desk
            assert desk.status_code == 200
            assert f'<tr id="alert-{alert_id}"><td>{alert_id}</td>' in desk.text
        assert listed.index(f"<tr><td>{first}</td>") < listed.index(f"<tr><td>{second}</td>")
