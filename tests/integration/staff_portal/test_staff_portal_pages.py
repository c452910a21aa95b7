"""The portal's pages over HTTP, on both databases: a compliance officer approves a pending KYC,
works an alert to an STR and downloads its goAML XML; a finance user proposes a fee change that
only a different person with config.change can approve; each step lands in the audit log page."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.models import KycProfile
from compliance.seed import ensure_defaults
from core.clock import FixedClock
from core.fees import service as fees
from core.fees.models import FeeRuleRow
from core.payments.models import MpesaCallback
from tests.integration.compliance.helpers import add_customer, rule_alert
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in

Factory = async_sessionmaker[AsyncSession]


async def _pending_customer(factory: Factory, clock: FixedClock, customer_id: int = 501) -> None:
    async with factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await add_customer(session, customer_id, clock.now())
        session.add(
            KycProfile(
                customer_id=customer_id, tier=0, full_name="Wanjiku Njeri", id_type="national_id",
                id_number="34560000", date_of_birth=date(1990, 3, 15), iprs_status="not_found",
                created_at=clock.now(), updated_at=clock.now(),
            )
        )  # fmt: skip
        await session.commit()


async def test_compliance_officer_approves_a_pending_kyc(session_factory: Factory) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    await _pending_customer(session_factory, clock)
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, officer)
        queue = await client.get("/staff/kyc")
        assert 'href="/staff/kyc/501"' in queue.text
        detail = await client.get("/staff/kyc/501")
        assert "Wanjiku Njeri" in detail.text and detail.headers["cache-control"] == "no-store"
        refused = await client.post(
            "/staff/kyc/501/identity", data={"csrf_token": csrf_of(detail.text), "decision": "reject"}
        )
        assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text  # a reason is needed
        approved = await client.post(
            "/staff/kyc/501/identity", data={"csrf_token": csrf_of(detail.text), "decision": "approve"}
        )
        assert approved.status_code == 303
        assert 'href="/staff/kyc/501"' not in (await client.get("/staff/kyc")).text
        audit = await client.get("/staff/audit?subject=customer:501")
        assert "kyc.profile_read" in audit.text and "kyc.t1_reviewed" in audit.text
        async with session_factory() as session:
            profile = await session.get(KycProfile, 501)
            assert profile is not None and profile.tier == 1
        lowered = await client.post(
            "/staff/kyc/501/tier",
            data={"csrf_token": csrf_of(detail.text), "tier": "0", "reason": "suspected_fraud"},
        )
        assert lowered.status_code == 303
    async with session_factory() as session:
        profile = await session.get(KycProfile, 501)
        assert profile is not None and profile.tier == 0


async def test_alert_worked_to_an_str_download(session_factory: Factory) -> None:
    clock = FixedClock()
    officer = await make_staff(session_factory, clock, "compliance")
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await add_customer(session, 502, clock.now())
        alert = await rule_alert(
            session, clock.now(), dedupe_key="portal-1", customer_id=502, summary="fan-in"
        )
        await session.commit()
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, officer)
        page = await client.get("/staff/cases")
        token = csrf_of(page.text)
        opened = await client.post(f"/staff/alerts/{alert.id}/open-case", data={"csrf_token": token})
        case_url = opened.headers["location"].split("?")[0]
        assert opened.status_code == 303 and case_url.startswith("/staff/cases/")
        steps = [
            ("assign", {"assignee": officer.email}),
            ("notes", {"text": "Ten senders in an hour, all new accounts."}),
            ("escalate", {"grounds": "Fan-in from new accounts, then cash-out."}),
            ("str", {}),
        ]
        for step, data in steps:
            response = await client.post(f"{case_url}/{step}", data={"csrf_token": token, **data})
            assert response.status_code == 303, (step, response.text[:500])
        case_page = await client.get(case_url)
        # built, not filed: the page says so, the STR clock still counts down, the filing form is offered
        assert "str_drafted" in case_page.text and "data-countdown" in case_page.text
        assert "drafted: not filed with the FRC yet" in case_page.text
        # an STR exists: it is not offered again, and a drafted case cannot be closed before filing
        assert f'action="{case_url}/str"' not in case_page.text
        assert f'action="{case_url}/close"' not in case_page.text
        filing = re.search(r'action="(/staff/reports/\d+/filing)"', case_page.text)
        assert filing, case_page.text
        filed = await client.post(
            filing.group(1),
            data={
                "csrf_token": token,
                "frc_reference": "FRC-STR-2026-7",
                "filed_on": clock.now().date().isoformat(),
            },
        )
        assert filed.status_code == 303, filed.text[:500]
        case_page = await client.get(case_url)
        assert (
            "data-countdown" not in case_page.text
            and "filed with the FRC as FRC-STR-2026-7" in case_page.text
        )
        filed_on = re.search(r"filed with the FRC as FRC-STR-2026-7 on ([^<]*)<", case_page.text)
        assert filed_on and ":" not in filed_on.group(1), case_page.text  # a date, not midnight
        # reported: closing as STR filed is the only way out, and no second STR is offered
        select = re.search(r'<select id="f-disposition".*?</select>', case_page.text, re.S)
        assert select, case_page.text
        options = re.findall(r'<option value="([a-z_]+)">', select.group(0))
        assert options == ["str_filed"] and f'action="{case_url}/str"' not in case_page.text
        link = re.search(r'href="(/staff/reports/\d+/xml)"', case_page.text)
        assert link, case_page.text
        xml = await client.get(link.group(1))
        assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
        assert "<report" in xml.text and "STR" in xml.text
        audit = await client.get("/staff/audit?action=case.")
        for action in (
            "case.opened",
            "case.assigned",
            "case.escalated",
            "case.str_drafted",
            "case.str_filed",
        ):
            assert action in audit.text
        assert "report.downloaded" in (await client.get("/staff/audit?action=report.downloaded")).text


async def test_fee_change_maker_checker(session_factory: Factory) -> None:
    clock = FixedClock()
    finance = await make_staff(session_factory, clock, "finance")
    admin = await make_staff(session_factory, clock, "admin")
    async with session_factory() as session:
        await fees.seed_defaults(session=session)  # the migration's seed (a cleaned database has none)
        await session.commit()
    async with portal_client(session_factory, clock) as (_app, maker, _rt):
        await sign_in(maker, clock, finance)
        form = await maker.get("/staff/config")
        token = csrf_of(form.text)
        bad = await maker.post(
            "/staff/config/fees", data={"csrf_token": token, "kind": "withdrawal", "percent": "abc"}
        )
        assert bad.status_code == 422 and 'id="e-percent"' in bad.text and 'id="e-reason"' in bad.text
        proposed = await maker.post(
            "/staff/config/fees",
            data={"csrf_token": token, "kind": "withdrawal", "asset": "*", "side": "*", "percent": "0.75",
                  "currency": "KES", "reason": "Align with the market"},
        )  # fmt: skip
        assert proposed.status_code == 303
        page = await maker.get("/staff/config")
        change = re.search(r"/staff/config/changes/(\d+)/approve", page.text)
        assert change is None  # the maker has no approve button (and no config.change)
        assert "<ins>0.75</ins>" in page.text and "<del>0.5</del>" in page.text
        refused = await maker.post("/staff/config/changes/1/approve", data={"csrf_token": csrf_of(page.text)})
        assert refused.status_code == 403
    async with portal_client(session_factory, clock) as (_app, checker, _rt):
        await sign_in(checker, clock, admin)
        page = await checker.get("/staff/config")
        change = re.search(r"/staff/config/changes/(\d+)/approve", page.text)
        assert change is not None
        approved = await checker.post(change.group(0), data={"csrf_token": csrf_of(page.text)})
        assert approved.status_code == 303
        audit = await checker.get("/staff/audit?action=config.")
        assert "config.change_proposed" in audit.text and "config.change_approved" in audit.text
    async with session_factory() as session:
        rows = (await session.scalars(select(FeeRuleRow).where(FeeRuleRow.kind == "withdrawal"))).all()
        newest = max(rows, key=lambda r: r.version)
        assert newest.percent == "0.75" and newest.version == 2 and newest.created_by == f"staff:{admin.id}"


async def test_the_maker_cannot_approve_their_own_change(session_factory: Factory) -> None:
    clock = FixedClock()
    admin = await make_staff(session_factory, clock, "admin")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, admin)
        token = csrf_of((await client.get("/staff/config")).text)
        await client.post(
            "/staff/config/fees",
            data={
                "csrf_token": token,
                "kind": "fx_margin",
                "side": "buy",
                "percent": "0.6",
                "reason": "test",
            },
        )
        refused = await client.post("/staff/config/changes/1/approve", data={"csrf_token": token})
        assert refused.status_code == 409
        assert "another person must approve it" in refused.text


async def test_tier_limits_need_a_second_compliance_officer(session_factory: Factory) -> None:
    clock = FixedClock()
    maker_login = await make_staff(session_factory, clock, "compliance")
    clock.advance(seconds=1)
    checker_login = await make_staff(session_factory, clock, "compliance")
    async with session_factory() as session:
        await ensure_defaults(session=session, now=clock.now())
        await session.commit()
    async with portal_client(session_factory, clock) as (_app, maker, _rt):
        await sign_in(maker, clock, maker_login)
        token = csrf_of((await maker.get("/staff/limits")).text)
        proposed = await maker.post(
            "/staff/limits",
            data={"csrf_token": token, "tier": "1", "daily_kes": "600000", "reason": "CBK review"},
        )
        assert proposed.status_code == 303
        own = await maker.post("/staff/limits/1/approve", data={"csrf_token": token})
        assert own.status_code == 409 and "another person must approve it" in own.text
    async with portal_client(session_factory, clock) as (_app, checker, _rt):
        await sign_in(checker, clock, checker_login)
        page = await checker.get("/staff/limits")
        assert re.search(r"<ins>600000(\.00)?</ins>", page.text), page.text
        approved = await checker.post("/staff/limits/1/approve", data={"csrf_token": csrf_of(page.text)})
        assert approved.status_code == 303
        assert "limits.change_approved" in (await checker.get("/staff/audit?action=limits.")).text


async def test_manual_fx_rate_needs_a_second_finance_user(session_factory: Factory) -> None:
    clock = FixedClock()
    maker_login = await make_staff(session_factory, clock, "finance")
    clock.advance(seconds=1)
    checker_login = await make_staff(session_factory, clock, "finance")
    async with portal_client(session_factory, clock) as (_app, maker, _rt):
        await sign_in(maker, clock, maker_login)
        page = await maker.get("/staff/fx")
        token = csrf_of(page.text)
        bad = await maker.post(
            "/staff/fx/overrides", data={"csrf_token": token, "pair": "USDT/KES", "rate": "-1"}
        )
        assert bad.status_code == 422 and 'id="e-rate"' in bad.text
        proposed = await maker.post(
            "/staff/fx/overrides",
            data={
                "csrf_token": token,
                "pair": "USD/KES",
                "rate": "129.50",
                "minutes": "30",
                "reason": "feed down",
            },
        )
        assert proposed.status_code in (303, 422)
        if proposed.status_code == 422:  # no USD/KES rate stored in this database: the service says so
            assert "no rate for USD/KES" in proposed.text
            return
    async with portal_client(session_factory, clock) as (_app, checker, _rt):
        await sign_in(checker, clock, checker_login)
        page = await checker.get("/staff/fx")
        found = re.search(r"/staff/fx/overrides/(\d+)/approve", page.text)
        assert found
        assert (
            await checker.post(found.group(0), data={"csrf_token": csrf_of(page.text)})
        ).status_code == 303


async def test_dashboard_writes_the_mpesa_float_as_money(session_factory: Factory) -> None:
    clock = FixedClock()
    finance = await make_staff(session_factory, clock, "finance")
    async with session_factory() as session:
        session.add(
            MpesaCallback(
                kind="balance_result", processed=True, outcome="utility=1000000.00", received_at=clock.now()
            )
        )
        await session.commit()
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, finance)
        page = await client.get("/staff")
        assert page.status_code == 200, page.text[:500]
        assert "<strong>KES 1,000,000.00</strong>" in page.text, page.text
