from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from lxml import etree
from sqlalchemy import select

from compliance import cases, goaml, kyc, reports
from compliance.errors import InvalidCaseTransition, ReportNotPossible
from compliance.gate import ComplianceGateService
from compliance.iprs import IdentityRecord, SimulatedIprs
from compliance.models import Alert, CaseStatus
from compliance.sanctions import store
from compliance.sanctions.loader import SanctionsList
from core.audit.models import AuditEntry
from core.config import ComplianceSettings
from core.money import Asset, Money
from core.ports import Decision, MovementCheck
from tests.integration.compliance.helpers import SANCTIONED_BTC, add_staff, kes, rule_alert

SETTINGS = ComplianceSettings(rentity_id="FRC-KBT-01")


async def verified_customer(factory, clock, customer_id: int = 21) -> None:
    iprs = SimulatedIprs()
    iprs.register(IdentityRecord("25219766", "Grace Akinyi Ochieng", date(1990, 3, 15)))
    async with factory() as session, session.begin():
        outcome = await kyc.submit_t1(
            session=session,
            customer_id=customer_id,
            full_name="Grace Ochieng",
            id_number="25219766",
            date_of_birth="1990-03-15",
            verifier=iprs,
            now=clock.now(),
        )
    assert outcome.upgraded and outcome.profile.tier == 1


async def test_sanctioned_withdrawal_to_str_export(factory, clock, crypto_lists: SanctionsList) -> None:
    """Done-when: a withdrawal to a sanctioned address is blocked and opens a case; a compliance
    officer exports an STR XML for that case."""
    await verified_customer(factory, clock)
    async with factory() as session, session.begin():
        await store.save_version(session=session, lists=crypto_lists, loaded_by="test")
    gate = ComplianceGateService(factory, clock)
    result = await gate.check(
        MovementCheck(21, "withdraw", Money.of("0.002", Asset.BTC), kes("2600"), SANCTIONED_BTC)
    )
    assert not result.allowed
    async with factory() as session, session.begin():
        (case,) = await cases.list_cases(session=session)
        assert case.status == CaseStatus.OPEN.value
        await add_staff(session, "officer@kibeti.test", clock.now())
        await cases.assign(
            session=session, case_id=case.id, assignee="officer@kibeti.test", actor="mlro", now=clock.now()
        )
        await cases.add_note(
            session=session,
            case_id=case.id,
            actor="officer@kibeti",
            text="Address is OFAC-listed (XBT).",
            now=clock.now(),
        )
        with pytest.raises(ReportNotPossible):
            await reports.export_str(
                session=session, case_id=case.id, actor="officer", now=clock.now(), settings=SETTINGS
            )
        await cases.add_evidence(
            session=session,
            case_id=case.id,
            movement_id=result.details["reference"],
            actor="officer",
            note="the attempt",
            now=clock.now(),
        )
        escalated = await cases.escalate(
            session=session,
            case_id=case.id,
            actor="officer",
            grounds="Attempted withdrawal to an OFAC-listed BTC address.",
            now=clock.now(),
        )
        assert escalated.str_due_at == clock.now() + timedelta(days=2)
        clock.advance(days=3)
        assert [c.id for c in await cases.overdue_strs(session=session, now=clock.now())] == [case.id]
        report = await reports.export_str(
            session=session, case_id=case.id, actor="officer", now=clock.now(), settings=SETTINGS
        )
        assert report.reference.startswith("KBT-STR-")
        # built, not filed: nothing reached the FRC, so the case is not reported and still overdue
        assert (await cases.get_case(session=session, case_id=case.id)).status == CaseStatus.STR_DRAFTED.value
        assert [c.id for c in await cases.overdue_strs(session=session, now=clock.now())] == [case.id]
        with pytest.raises(InvalidCaseTransition):  # an STR not filed cannot close the case as filed
            await cases.close(
                session=session,
                case_id=case.id,
                disposition="str_filed",
                note="",
                actor="mlro",
                now=clock.now(),
            )
        with pytest.raises(InvalidCaseTransition):  # the filing needs the FRC's reference
            await reports.record_str_filing(
                session=session, report_id=report.id, frc_reference=" ", filed_at=clock.now(), actor="mlro",
                now=clock.now(),
            )  # fmt: skip
        await reports.record_str_filing(
            session=session, report_id=report.id, frc_reference="FRC/STR/2026/0042", filed_at=clock.now(),
            actor="mlro", now=clock.now(),
        )  # fmt: skip
        assert (report.frc_reference, report.submitted_at) == ("FRC/STR/2026/0042", clock.now())
        assert (await cases.get_case(session=session, case_id=case.id)).status == CaseStatus.REPORTED.value
        assert await cases.overdue_strs(session=session, now=clock.now()) == []
        with pytest.raises(InvalidCaseTransition):  # filed once
            await reports.record_str_filing(
                session=session, report_id=report.id, frc_reference="FRC/2", filed_at=clock.now(), actor="mlro",
                now=clock.now(),
            )  # fmt: skip
        actions = [
            (e.action, e.details.get("frc_reference"))
            for e in (await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars()
            if e.action.startswith("case.str_")
        ]
        assert actions == [("case.str_drafted", None), ("case.str_filed", "FRC/STR/2026/0042")]
        await cases.close(
            session=session,
            case_id=case.id,
            disposition="str_filed",
            note="filed",
            actor="mlro",
            now=clock.now(),
        )
        detail = await cases.case_detail(session=session, case_id=case.id)
    xml = report.xml.encode()
    assert goaml.missing_elements(xml) == []
    root = etree.fromstring(xml)
    assert root.findtext("report_code") == "STR"
    assert root.findtext("rentity_id") == "FRC-KBT-01"
    assert root.findtext("currency_code_local") == "KES"
    assert root.findtext("reason").startswith("Attempted withdrawal")
    txn = root.find("transaction")
    assert txn.findtext("t_to/to_account/account") == SANCTIONED_BTC
    assert txn.findtext("t_from_my_client/from_person/id_number") == "25219766"
    assert txn.findtext("t_from_my_client/from_person/birthdate") == "1990-03-15T00:00:00"
    assert txn.findtext("amount_local") == "2600.00"
    assert root.findtext("report_indicators/indicator") == "sanctions_block"
    assert [e.kind for e in detail.events] == [
        "status",
        "alert",
        "assign",
        "note",
        "evidence",
        "status",
        "report",
        "report",
        "status",
    ]
    assert detail.case.disposition == "str_filed"


async def test_case_lifecycle_rules(factory, clock) -> None:
    async with factory() as session, session.begin():
        alert = await rule_alert(
            session,
            clock.now(),
            dedupe_key="a1",
            customer_id=30,
            rule_code="velocity",
            score=50,
            summary="25 movements in 24 h",
        )
        case = await cases.open_case(
            session=session, title="velocity", actor="mlro", now=clock.now(), alert_ids=[alert.id]
        )
        assert case.customer_id == 30
        assert (await session.get(Alert, alert.id)).status == "in_case"
        with pytest.raises(InvalidCaseTransition):  # an alert belongs to one case
            await cases.open_case(
                session=session, title="again", actor="mlro", now=clock.now(), alert_ids=[alert.id]
            )
        with pytest.raises(InvalidCaseTransition):
            await cases.escalate(
                session=session, case_id=case.id, actor="mlro", grounds="  ", now=clock.now()
            )
        with pytest.raises(InvalidCaseTransition):
            await cases.close(
                session=session,
                case_id=case.id,
                disposition="str_filed",
                note="",
                actor="mlro",
                now=clock.now(),
            )
        closed = await cases.close(
            session=session,
            case_id=case.id,
            disposition="false_positive",
            note="salary day",
            actor="mlro",
            now=clock.now(),
        )
        assert closed.status == "closed" and closed.closed_at == clock.now()
        with pytest.raises(InvalidCaseTransition):
            await cases.assign(session=session, case_id=case.id, assignee="x", actor="mlro", now=clock.now())
        other = await rule_alert(
            session,
            clock.now(),
            dedupe_key="a2",
            customer_id=30,
            rule_code="fan_in",
            score=60,
            summary="fan in",
        )
        dismissed = await cases.dismiss_alert(
            session=session, alert_id=other.id, actor="mlro", note="known merchant", now=clock.now()
        )
        assert dismissed.status == "dismissed"


async def test_activity_str_when_no_transactions(factory, clock) -> None:
    async with factory() as session, session.begin():
        case = await cases.open_case(
            session=session, title="KYC fraud", actor="mlro", now=clock.now(), customer_id=31
        )
        await cases.escalate(
            session=session, case_id=case.id, actor="mlro", grounds="Forged ID presented.", now=clock.now()
        )
        report = await reports.export_str(
            session=session, case_id=case.id, actor="mlro", now=clock.now(), settings=SETTINGS
        )
    root = etree.fromstring(report.xml.encode())
    assert goaml.missing_elements(report.xml.encode()) == []
    assert root.find("activity/report_parties/report_party/person") is not None
    assert root.find("transaction") is None


async def test_ctr_candidates_and_export_and_crypto_csv(factory, clock) -> None:
    async with factory() as session, session.begin():
        for tier in await kyc.list_tiers(session=session):
            tier.per_transaction_kes = tier.daily_kes = tier.monthly_kes = 10**12
            tier.max_balance_kes = tier.crypto_withdrawal_kes = 10**12
    gate = ComplianceGateService(factory, clock)
    for amount in ("1000000", "990000"):
        result = await gate.check(MovementCheck(40, "sell", kes(amount), kes(amount), "+254711000040"))
        assert result.decision is not Decision.DENY  # new-account review still counts
    assert (await gate.check(MovementCheck(41, "sell", kes("5000"), kes("5000"), "+254711000041"))).allowed
    usdt = MovementCheck(
        41, "deposit", Money.of("100", Asset.USDT_TRC20), kes("12900"), "TXYZ1234567890abcdefghijkLMNOP"
    )
    async with factory() as session, session.begin():
        await store.save_version(session=session, lists=SanctionsList.from_entities([]), loaded_by="test")
    assert (await gate.check(usdt)).allowed
    today = clock.now().astimezone(reports.EAT).date()
    async with factory() as session, session.begin():
        candidates = await reports.ctr_candidates(session=session, day=today, settings=SETTINGS)
        assert [(c.customer_id, str(c.total_kes)) for c in candidates] == [(40, "1990000.00")]
        ctr = await reports.export_ctr(
            session=session, customer_id=40, day=today, actor="mlro", now=clock.now(), settings=SETTINGS
        )
        with pytest.raises(ReportNotPossible):
            await reports.export_ctr(
                session=session, customer_id=41, day=today, actor="mlro", now=clock.now(), settings=SETTINGS
            )
        flows = await reports.crypto_flows_csv(
            session=session, start=clock.now() - timedelta(days=1), end=clock.now() + timedelta(days=1)
        )
    root = etree.fromstring(ctr.xml.encode())
    assert root.findtext("report_code") == "CTR" and len(root.findall("transaction")) == 2
    assert goaml.missing_elements(ctr.xml.encode()) == []
    rows = list(csv.DictReader(io.StringIO(flows)))
    assert [(r["asset"], r["amount"], r["amount_kes"]) for r in rows] == [
        ("USDT-TRC20", "100.000000", "12900.00")
    ]


async def test_missing_elements_detects_gaps() -> None:
    assert "rentity_id" in goaml.missing_elements(b"<report><report_code>STR</report_code></report>")
    with pytest.raises(etree.XMLSyntaxError):
        goaml.missing_elements(b"<report>")


async def test_unknown_report_code_rejected() -> None:
    data = goaml.ReportInput(
        "XYZ", "r", __import__("datetime").datetime(2026, 1, 1), "r", "a", goaml.Person("A", "B")
    )
    with pytest.raises(ValueError, match="unknown goAML report code"):
        goaml.build_report(data, SETTINGS)


async def test_alert_query(factory, clock) -> None:
    async with factory() as session, session.begin():
        await rule_alert(session, clock.now(), dedupe_key="q", customer_id=50)
        found = await cases.list_alerts(session=session, status="open", customer_id=50)
        assert len(found) == 1
        assert list((await session.execute(select(Alert).where(Alert.customer_id == 51))).scalars()) == []
