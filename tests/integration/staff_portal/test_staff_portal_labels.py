"""Staff pages in Swahili read Swahili: case states, alert rules, the case history's kinds and its
generated lines, dispositions, entry and account kinds and payout states on the dashboard are
labels from the catalogs (en and sw), each with its raw code in a title attribute for staff who
search by it; a code with no label yet is shown as it is."""

from __future__ import annotations

import re

import httpx
import pytest
from babel.messages.pofile import read_po
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.models import AlertStatus, CaseStatus, Disposition
from compliance.seed import ensure_defaults
from core.clock import FixedClock
from core.i18n.catalog import LOCALE_DIR
from core.ledger import service as ledger
from core.ledger.types import AccountKind
from core.money import Asset, Money
from tests.integration.compliance.helpers import add_customer, rule_alert
from tests.integration.staff_portal.portal_helpers import (
    csrf_of,
    make_staff,
    portal_client,
    sign_in,
    switch_language,
)
from webapp.staff_portal import labels

Factory = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_state_and_account_kind_has_a_label(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        found = {m.id: m.string for m in read_po(handle) if m.id}
    codes = [("case_status", s.value) for s in CaseStatus] + [("alert_status", s.value) for s in AlertStatus]
    codes += [("disposition", d.value) for d in Disposition] + [("account", k.value) for k in AccountKind]
    for group, code in codes:
        assert found.get(f"staff.code.{group}.{code}"), (language, group, code)


def test_a_label_keeps_its_code_and_an_unknown_code_reads_as_itself() -> None:
    assert labels.label_html("case_status", "str_drafted", "sw") == (
        '<span title="str_drafted">Rasimu ya STR, bado haijawasilishwa</span>'
    )
    assert labels.label_html("rule", "<new_rule>", "sw") == (
        '<span title="&lt;new_rule&gt;">&lt;new_rule&gt;</span>'
    )
    assert labels.label_html("priority", None, "en") == "–"
    assert labels.event_text("status", "closed: false_positive", {"disposition": "false_positive"}, "sw") == (
        "Imefungwa: Tahadhari isiyo sahihi"
    )
    assert labels.event_text("note", "as written", {}, "sw") == "as written"


async def _swahili(client: httpx.AsyncClient) -> None:
    await switch_language(client, "sw")


def _cells(html: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", html)


async def test_case_pages_and_dashboard_in_swahili_show_labels_with_their_codes(
    session_factory: Factory,
) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await add_customer(session, 503, clock.now())
        alert = await rule_alert(
            session, clock.now(), dedupe_key="labels-1", customer_id=503, rule_code="fan_in", summary="fan-in"
        )
        await rule_alert(session, clock.now(), dedupe_key="labels-2", customer_id=503, rule_code="brand_new")
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=Asset.KES)
        suspense = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
        await ledger.transfer(
            session=session, idempotency_key="labels-entry", from_account_id=custody.id,
            to_account_id=suspense.id, amount=Money.of("100", Asset.KES), kind="mpesa_c2b",
        )  # fmt: skip
        await session.commit()
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, officer)
        english = await client.get("/staff/cases")
        assert '<span title="fan_in">Many senders to one account</span>' in english.text
        token = csrf_of(english.text)
        opened = await client.post(f"/staff/alerts/{alert.id}/open-case", data={"csrf_token": token})
        case_url = opened.headers["location"].split("?")[0]
        for step, data in (("assign", {"assignee": officer.email}), ("notes", {"text": "Watumaji kumi."})):
            assert (
                await client.post(f"{case_url}/{step}", data={"csrf_token": token, **data})
            ).status_code == 303
        await _swahili(client)

        cases = await client.get("/staff/cases")
        assert cases.status_code == 200 and '<html lang="sw">' in cases.text
        assert '<span title="brand_new">brand_new</span>' in cases.text  # no label yet: the code
        in_case = await client.get("/staff/cases?alert_status=in_case")
        assert '<span title="fan_in">Watumaji wengi kwa akaunti moja</span>' in in_case.text
        assert '<option value="in_case" selected>Iko kwenye kesi</option>' in in_case.text
        assert '<span title="investigating">Inachunguzwa</span>' in cases.text  # the case's state (assigned)
        assert '<option value="in_case">Iko kwenye kesi</option>' in cases.text
        assert '<option value="investigating">Inachunguzwa</option>' in cases.text

        case = await client.get(case_url)
        assert case.status_code == 200
        assert '<span title="normal">Kawaida</span>' in case.text
        history = _cells(case.text.split("<h2>", 1)[1].rsplit("<table>", 1)[1])
        assert '<span title="status">Hali</span>' in history and "Kesi imefunguliwa" in history
        assert '<span title="assign">Kukabidhiwa</span>' in history
        assert f"Imekabidhiwa kwa {officer.email}" in history
        assert '<span title="note">Dokezo</span>' in history and "Watumaji kumi." in history
        assert '<option value="false_positive">Tahadhari isiyo sahihi</option>' in case.text
        closed = await client.post(
            f"{case_url}/close", data={"csrf_token": token, "disposition": "false_positive", "note": "ok"}
        )
        assert closed.status_code == 303
        case = await client.get(case_url)
        assert '<span title="closed">Imefungwa</span>' in case.text
        assert '(<span title="false_positive">Tahadhari isiyo sahihi</span>)' in case.text
        assert "Imefungwa: Tahadhari isiyo sahihi" in case.text and "closed: false_positive" not in case.text

        dashboard = await client.get("/staff")
        assert dashboard.status_code == 200
        assert '<span title="mpesa_c2b">Paybill ya M-Pesa</span>' in dashboard.text
        assert "Paybill ya M-Pesa · KES" in dashboard.text  # the chart's bar
        assert '<span title="custody">Zinazoshikiliwa kwenye mnyororo</span> · KES' in dashboard.text
