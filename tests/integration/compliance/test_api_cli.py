"""The staff API for the compliance role, and the CLI, end to end on real databases."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lxml import etree

from compliance import goaml
from compliance.gate import ComplianceGateService
from compliance.sanctions import store
from compliance.sanctions.loader import SanctionsList
from core.auth import sessions
from core.auth.models import StaffUser
from core.money import Asset, Money
from core.ports import MovementCheck
from tests.cli import kibeti
from tests.integration.compliance.helpers import add_customer
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import SECRET_KEY

SANCTIONED_ETH = "0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1"


async def staff_token(factory, clock, role: str, email: str = "") -> str:
    async with factory() as session:
        staff = StaffUser(
            email=email or f"{role}@kibeti.test",
            role=role,
            password_hash="x",
            totp_secret="x",
            last_totp_step=0,
            active=True,
            failed_logins=0,
            created_at=clock.now(),
        )
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
        await session.commit()
    return pair.access_token


async def test_officer_works_a_case_to_an_str_over_http(factory, clock, crypto_lists: SanctionsList) -> None:
    async with factory() as session, session.begin():
        await store.save_version(session=session, lists=crypto_lists, loaded_by="test")
        from compliance import kyc

        await add_customer(session, 90, clock.now(), kyc_tier=1)
        (await kyc.ensure_profile(session=session, customer_id=90, now=clock.now())).tier = 1
    usdt = MovementCheck(
        90, "withdraw", Money.of("50", Asset.USDT_ERC20), Money.of("6450", Asset.KES), SANCTIONED_ETH
    )
    assert not (await ComplianceGateService(factory, clock).check(usdt)).allowed
    officer = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    support = {"Authorization": f"Bearer {await staff_token(factory, clock, 'support')}"}
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        base = "/api/staff/compliance"
        assert (await client.get(f"{base}/cases", headers=support)).status_code == 403
        cases = (await client.get(f"{base}/cases", headers=officer)).json()
        assert len(cases) == 1 and cases[0]["priority"] == "high"
        case_id = cases[0]["id"]
        detail = (await client.get(f"{base}/cases/{case_id}", headers=officer)).json()
        assert detail["alerts"][0]["rule_code"] == "sanctions_block"
        assert (
            await client.post(
                f"{base}/cases/{case_id}/assign", json={"assignee": "compliance@kibeti.test"}, headers=officer
            )
        ).json()["status"] == "investigating"
        assert (
            await client.post(
                f"{base}/cases/{case_id}/notes", json={"text": "OFAC ETH address"}, headers=officer
            )
        ).status_code == 201
        early = await client.post(f"{base}/cases/{case_id}/str", headers=officer)
        assert early.status_code == 409
        escalated = await client.post(
            f"{base}/cases/{case_id}/escalate",
            json={"grounds": "Withdrawal to OFAC-listed ETH address."},
            headers=officer,
        )
        assert escalated.json()["str_due_at"] is not None
        report = await client.post(f"{base}/cases/{case_id}/str", headers=officer)
        assert report.status_code == 201, report.text
        xml = await client.get(f"{base}/reports/{report.json()['id']}/xml", headers=officer)
        assert xml.headers["content-type"].startswith("application/xml")
        assert goaml.missing_elements(xml.content) == []
        assert etree.fromstring(xml.content).findtext("report_code") == "STR"
        assert report.json()["frc_reference"] == "" and report.json()["submitted_at"] is None
        shown = (await client.get(f"{base}/cases/{case_id}", headers=officer)).json()
        assert shown["case"]["status"] == "str_drafted"  # built, not yet filed with the FRC
        filing = {"frc_reference": "FRC-STR-2026-0042", "filed_at": "2026-03-10T11:30:00+03:00"}
        filed = await client.post(
            f"{base}/reports/{report.json()['id']}/filing", json=filing, headers=officer
        )
        assert filed.status_code == 200, filed.text
        assert filed.json()["frc_reference"] == "FRC-STR-2026-0042"
        again = await client.post(
            f"{base}/reports/{report.json()['id']}/filing", json=filing, headers=officer
        )
        assert again.status_code == 409, again.text
        shown = (await client.get(f"{base}/cases/{case_id}", headers=officer)).json()
        assert shown["case"]["status"] == "reported"
        closed = await client.post(
            f"{base}/cases/{case_id}/close",
            json={"disposition": "str_filed", "note": "filed"},
            headers=officer,
        )
        assert closed.json()["status"] == "closed"
        assert (await client.get(f"{base}/cases/999", headers=officer)).status_code == 404
        bad = await client.post(
            f"{base}/cases/{case_id}/close", json={"disposition": "nonsense"}, headers=officer
        )
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_disposition"
        frozen = await client.post(
            f"{base}/customers/90/freeze", json={"frozen": True, "reason": "case"}, headers=officer
        )
        assert frozen.json() == {"customer_id": 90, "frozen": True}


def run_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return kibeti(*args, env={"DATABASE_URL": db_url, "REDIS_URL": "", "KIBETI_ENV": "test"})


def test_cli_load_rejects_malformed_and_keeps_previous(sqlite_url: str, tmp_path: Path) -> None:
    good = tmp_path / "good"
    shutil.copytree("/work/shared/data/sanctions/crypto", good / "crypto")
    loaded = run_cli(sqlite_url, "sanctions", "load", str(good))
    assert loaded.returncode == 0, loaded.stderr
    assert "crypto_addresses: 611" in loaded.stdout
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    (bad / "crypto" / "sanctioned_addresses_TRX.txt").chmod(0o644)
    with (bad / "crypto" / "sanctioned_addresses_TRX.txt").open("a") as handle:
        handle.write("0xnot valid\n")
    rejected = run_cli(sqlite_url, "sanctions", "load", str(bad))
    assert rejected.returncode == 2
    assert "sanctioned_addresses_TRX.txt:7: not a TRX address" in rejected.stderr
    assert "previous list stays in force" in rejected.stderr
    status = run_cli(sqlite_url, "sanctions", "status")
    assert status.stdout.count("ACTIVE") == 1 and "v1 " in status.stdout and "v2" not in status.stdout
    screened = run_cli(sqlite_url, "sanctions", "screen", "--address", "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre")
    assert screened.stdout.startswith("BLOCK")


def test_cli_screen_explains_a_name_score(sqlite_url: str, tmp_path: Path) -> None:
    """Staff see why a name is where it is: the name score, its evidence, and what moved it."""
    ofac = tmp_path / "ofac"
    ofac.mkdir()
    rows = [
        ["101", "OMAR, Mohammed", "individual", "SDGT"],
        ["102", "BAHDHIRI, Omar Hassan", "individual", "SDGT"],
    ]
    (ofac / "sdn.csv").write_text(
        "".join(",".join([*(f'"{c}"' for c in row), *['"-0-"'] * 8]) + "\n" for row in rows), encoding="utf-8"
    )
    assert run_cli(sqlite_url, "sanctions", "load", str(tmp_path), "--no-rescreen").returncode == 0
    common = run_cli(sqlite_url, "sanctions", "screen", "Omar Mohamed")
    assert common.stdout.startswith("REVIEW"), common.stdout
    assert "name score 1.000" in common.stdout and "capped: the match rests on common" in common.stdout
    rare = run_cli(sqlite_url, "sanctions", "screen", "Omar Hassan Bahdhiri", "--nationality", "Kenya")
    assert rare.stdout.startswith("ALERT"), rare.stdout
    assert "ofac:102" in rare.stdout


async def test_limit_changes_need_a_second_person_and_documents_open_for_review(factory, clock) -> None:
    from compliance import kyc
    from tests.integration.identity.helpers import KEYRING

    maker = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    checker_token = await staff_token(factory, clock, "compliance", email="checker@kibeti.test")
    checker = {"Authorization": f"Bearer {checker_token}"}
    async with factory() as session:
        profile = await kyc.ensure_profile(session=session, customer_id=91, now=clock.now())
        profile.tier = 1
        jpeg = b"\xff\xd8\xff\xe0" + b"photo" * 10
        doc = await kyc.add_document(
            session=session, customer_id=91, kind="id_front", content=jpeg, keyring=KEYRING, now=clock.now()
        )
        await session.commit()
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        base = "/api/staff/compliance"
        proposed = await client.post(
            f"{base}/tiers/0/limit-changes",
            json={"limits_kes": {"daily_kes": "15000"}, "reason": "pilot"},
            headers=maker,
        )
        assert proposed.status_code == 201, proposed.text
        change_id = proposed.json()["id"]
        own = await client.post(
            f"{base}/limit-changes/{change_id}/decide", json={"approve": True}, headers=maker
        )
        assert own.status_code == 403 and own.json()["code"] == "maker_checker"
        tiers = (await client.get(f"{base}/tiers", headers=checker)).json()
        assert tiers[0]["limits_kes"]["daily_kes"] == "10000.00"
        approved = await client.post(
            f"{base}/limit-changes/{change_id}/decide", json={"approve": True}, headers=checker
        )
        assert approved.json()["status"] == "applied"
        tiers = (await client.get(f"{base}/tiers", headers=checker)).json()
        assert tiers[0]["limits_kes"]["daily_kes"] == "15000.00"
        kyc_view = (await client.get(f"{base}/customers/91/kyc", headers=maker)).json()
        assert kyc_view["tier"] == 1 and [d["kind"] for d in kyc_view["documents"]] == ["id_front"]
        image = await client.get(f"{base}/documents/{doc.id}", headers=maker)
        assert image.content == jpeg and image.headers["content-type"] == "image/jpeg"


def test_cli_reports(sqlite_url: str, tmp_path: Path) -> None:
    import asyncio

    from compliance import cases
    from core.clock import FixedClock
    from core.db.session import make_engine, make_session_factory

    async def seed() -> None:
        engine = make_engine(sqlite_url)
        clock = FixedClock()
        async with make_session_factory(engine)() as session, session.begin():
            case = await cases.open_case(
                session=session, title="mule", actor="mlro", now=clock.now(), customer_id=5
            )
            await cases.escalate(
                session=session, case_id=case.id, actor="mlro", grounds="Mule account.", now=clock.now()
            )
        await engine.dispose()

    asyncio.run(seed())
    out = tmp_path / "str.xml"
    made = run_cli(sqlite_url, "compliance", "report", "str", "--case", "1", "-o", str(out))
    assert made.returncode == 0, made.stderr
    assert goaml.missing_elements(out.read_bytes()) == []
    listed = run_cli(sqlite_url, "compliance", "cases")
    assert "#1 str_drafted" in listed.stdout  # drafted: not filed with the FRC, still due
    helped = run_cli(sqlite_url, "compliance", "report", "str", "--help").stdout
    assert "str_drafted" in helped and "marks the case reported" not in helped, helped
    assert "1 overdue" in run_cli(sqlite_url, "compliance", "overdue").stdout
    ctr = run_cli(sqlite_url, "compliance", "report", "ctr", "--day", "2026-01-01")
    assert "No CTR candidates" in ctr.stdout
    flows = run_cli(
        sqlite_url, "compliance", "report", "crypto-flows", "--from", "2026-01-01", "--to", "2026-02-01"
    )
    assert flows.stdout.startswith("movement_id,created_at_utc")
    assert "T0 T0 phone only" in run_cli(sqlite_url, "compliance", "tiers").stdout
