"""Acceptance defects in the compliance staff API (issues 8 and 3): every staff action lands in the
audit log, unknown ids answer 404 and write nothing, limit amounts are parsed strictly, errors are
specific and flat, the customer's tier stays in step with the KYC profile, assignees are staff."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from compliance import cases, kyc
from compliance.iprs import IdentityRecord, SimulatedIprs
from compliance.models import Case, KycProfile, LimitChange
from compliance.sanctions import store
from compliance.sanctions.loader import SanctionsList
from core.audit import service as audit
from core.audit.models import AuditEntry
from core.identity.models import Customer
from tests.integration.compliance.helpers import add_customer, add_staff, rule_alert
from tests.integration.compliance.test_api_cli import run_cli, staff_token
from tests.integration.identity.api_helpers import api_client, make_runtime

BASE = "/api/staff/compliance"


async def audit_rows(factory) -> list[AuditEntry]:
    async with factory() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())


async def count(factory, model: Any) -> int:
    async with factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def assert_flat_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status_code == status, response.text
    assert body["code"] == code and body["message"] and "request_id" in body and "detail" not in body
    return body


async def test_every_staff_action_is_audited_with_the_staff_id(factory, clock) -> None:
    async with factory() as session, session.begin():
        await add_customer(session, 50, clock.now())
        await add_staff(session, "analyst@kibeti.test", clock.now())
        await rule_alert(session, clock.now(), dedupe_key="a1", customer_id=50)
        await rule_alert(session, clock.now(), dedupe_key="a2", customer_id=50)
    maker = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    checker = {
        "Authorization": f"Bearer {await staff_token(factory, clock, 'compliance', 'checker@kibeti.test')}"
    }
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        ok = [
            await client.post(f"{BASE}/customers/50/freeze", json={"frozen": True, "reason": "court order"}, headers=maker),
            await client.post(f"{BASE}/customers/50/freeze", json={"frozen": False}, headers=maker),
            await client.post(f"{BASE}/alerts/2/dismiss", json={"note": "salary"}, headers=maker),
            case := await client.post(f"{BASE}/cases", json={"title": "mule", "alert_ids": [1]}, headers=maker),
            await client.post(f"{BASE}/cases/1/assign", json={"assignee": "Analyst@kibeti.test"}, headers=maker),
            await client.post(f"{BASE}/cases/1/escalate", json={"grounds": "Layering."}, headers=maker),
            await client.post(f"{BASE}/cases/1/str", headers=maker),
            await client.post(
                f"{BASE}/reports/1/filing",
                json={"frc_reference": "FRC-1", "filed_at": "2026-03-10T08:00:00+00:00"}, headers=maker,
            ),
            await client.post(f"{BASE}/cases/1/close", json={"disposition": "str_filed"}, headers=maker),
            change := await client.post(
                f"{BASE}/tiers/0/limit-changes",
                json={"limits_kes": {"daily_kes": "12000", "monthly_kes": 60000}, "reason": "pilot"},
                headers=maker,
            ),
            await client.post(f"{BASE}/limit-changes/1/decide", json={"approve": True}, headers=checker),
        ]  # fmt: skip
        assert [r.status_code for r in ok] == [200, 200, 200, 201, 200, 200, 201, 200, 200, 201, 200], [
            r.text for r in ok
        ]
        assert case.json()["customer_id"] == 50 and change.json()["changes_kes"]["monthly_kes"] == "60000.00"
    maker_id = "staff:" + maker_staff_id(await audit_rows(factory))
    rows = [(r.actor, r.action, r.subject) for r in await audit_rows(factory)]
    assert rows[-11:] == [
        (maker_id, "customer.frozen", "customer:50"),
        (maker_id, "customer.unfrozen", "customer:50"),
        (maker_id, "alert.dismissed", "alert:2"),
        (maker_id, "case.opened", "case:1"),
        (maker_id, "case.assigned", "case:1"),
        (maker_id, "case.escalated", "case:1"),
        (maker_id, "case.str_drafted", "case:1"),
        (maker_id, "case.str_filed", "case:1"),
        (maker_id, "case.closed", "case:1"),
        (maker_id, "limits.change_proposed", "limit_change:1"),
        (rows[-1][0], "limits.change_approved", "limit_change:1"),
    ]
    assert rows[-1][0] != maker_id and rows[-1][0].startswith("staff:")
    details = {r.action: r.details for r in await audit_rows(factory)}
    assert details["customer.frozen"] == {"reason": "court order"}
    assert details["case.assigned"] == {"assignee": "analyst@kibeti.test"}
    assert details["case.closed"]["disposition"] == "str_filed"
    assert details["limits.change_approved"]["changes_kes"] == {
        "daily_kes": "12000.00",
        "monthly_kes": "60000.00",
    }
    assert "@" not in "".join(r[0] for r in rows)  # staff named by id, not e-mail
    async with factory() as session:
        assert (await audit.verify(session=session)).ok


def maker_staff_id(rows: list[AuditEntry]) -> str:
    """The id of the staff user who froze the customer (the first staff action above)."""
    return next(r.actor for r in rows if r.action == "customer.frozen").split(":")[1]


async def test_t2_review_tier_changes_and_list_loads_are_audited(factory, clock, crypto_lists) -> None:
    iprs = SimulatedIprs()
    iprs.register(IdentityRecord("25219766", "Grace Akinyi Ochieng", date(1990, 3, 15)))
    async with factory() as session, session.begin():
        await add_customer(session, 60, clock.now())
        await store.save_version(session=session, lists=crypto_lists, loaded_by="cli")
        await kyc.submit_t1(
            session=session,
            customer_id=60,
            full_name="Grace Ochieng",
            id_number="25219766",
            date_of_birth="1990-03-15",
            verifier=iprs,
            now=clock.now(),
        )
        (await kyc.ensure_profile(session=session, customer_id=60, now=clock.now())).t2_review = "pending"
    officer = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        reviewed = await client.post(
            f"{BASE}/customers/60/t2-review", json={"approve": True}, headers=officer
        )
        assert reviewed.json()["tier"] == 2, reviewed.text
    rows = [(r.actor, r.action, r.subject, r.details) for r in await audit_rows(factory)]
    loaded = next(r for r in rows if r[1] == "sanctions.list_loaded")
    assert loaded[0] == "cli" and loaded[3]["checksum"] == crypto_lists.checksum
    tiers = [(r[0], r[3]["from_tier"], r[3]["to_tier"]) for r in rows if r[1] == "kyc.tier_changed"]
    assert tiers[0] == ("customer:60", 0, 1) and tiers[1][1:] == (1, 2) and tiers[1][0].startswith("staff:")
    assert any(r[1] == "kyc.t2_reviewed" and r[3] == {"approved": True} for r in rows)
    assert "Grace" not in str(rows) and "25219766" not in str(rows)  # no PII in the log


async def test_audit_log_read_api_pages_filters_and_validates(factory, clock) -> None:
    async with factory() as session, session.begin():
        for number in (70, 71, 72):
            await add_customer(session, number, clock.now())
    officer = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    admin = {"Authorization": f"Bearer {await staff_token(factory, clock, 'admin')}"}
    support = {"Authorization": f"Bearer {await staff_token(factory, clock, 'support')}"}
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        for number in (70, 71, 72):
            frozen = await client.post(
                f"{BASE}/customers/{number}/freeze", json={"frozen": True}, headers=officer
            )
            assert frozen.status_code == 200
        assert_flat_error(await client.get("/api/staff/audit", headers=support), 403, "permission_denied")
        anonymous = await client.get("/api/staff/audit")
        assert_flat_error(anonymous, 401, "unauthorized")
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert_flat_error(await client.get("/api/staff/no-such-page", headers=officer), 404, "not_found")
        assert_flat_error(await client.delete("/api/staff/audit", headers=officer), 405, "method_not_allowed")
        first = (await client.get("/api/staff/audit?action=customer.frozen&limit=2", headers=admin)).json()
        assert [e["subject"] for e in first["entries"]] == ["customer:70", "customer:71"]
        after = first["next_after_id"]
        assert after == first["entries"][-1]["id"]
        second = await client.get(
            f"/api/staff/audit?action=customer.&limit=2&after_id={after}", headers=officer
        )
        assert [e["subject"] for e in second.json()["entries"]] == ["customer:72"]
        assert second.json()["next_after_id"] is None
        everything = (await client.get("/api/staff/audit?limit=200", headers=officer)).json()["entries"]
        ids = [e["id"] for e in everything]
        assert ids == sorted(ids) and len(ids) == len(set(ids))
        assert all(e["prev_hash"] and e["entry_hash"] for e in everything)
        for bad in ("limit=0", "limit=201", "after_id=-1", "after_id=x", "action=DROP%20TABLE"):
            assert_flat_error(
                await client.get(f"/api/staff/audit?{bad}", headers=officer), 422, "invalid_request"
            )


async def test_unknown_ids_answer_404_and_write_nothing(factory, clock) -> None:
    officer = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    before = await count(factory, AuditEntry)
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        frozen = await client.post(f"{BASE}/customers/999/freeze", json={"frozen": True}, headers=officer)
        assert "999" in assert_flat_error(frozen, 404, "customer_not_found")["message"]
        opened = await client.post(f"{BASE}/cases", json={"title": "x", "customer_id": 999}, headers=officer)
        assert_flat_error(opened, 404, "customer_not_found")
        reviewed = await client.post(
            f"{BASE}/customers/999/t2-review", json={"approve": True}, headers=officer
        )
        assert_flat_error(reviewed, 404, "customer_not_found")
        case = await client.post(f"{BASE}/cases", json={"title": "no customer"}, headers=officer)
        assert case.status_code == 201
        evidence = await client.post(f"{BASE}/cases/1/evidence", json={"movement_id": 4242}, headers=officer)
        assert "4242" in assert_flat_error(evidence, 404, "movement_not_found")["message"]
        decided = await client.post(
            f"{BASE}/limit-changes/777/decide", json={"approve": True}, headers=officer
        )
        assert_flat_error(decided, 404, "limit_change_not_found")
        tier = await client.post(
            f"{BASE}/tiers/9/limit-changes",
            json={"limits_kes": {"daily_kes": "1"}, "reason": "x"},
            headers=officer,
        )
        assert_flat_error(tier, 404, "unknown_kyc_tier")
    assert await count(factory, KycProfile) == 0
    assert await count(factory, Case) == 1
    assert await count(factory, AuditEntry) == before + 1  # only the case that was opened


async def test_limit_amounts_are_parsed_strictly_and_kept_in_order(factory, clock) -> None:
    officer = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    url = f"{BASE}/tiers/0/limit-changes"
    async with api_client(make_runtime(factory, clock)) as (_app, client):

        async def propose(limits: dict[str, Any]) -> Any:
            return await client.post(url, json={"limits_kes": limits, "reason": "x"}, headers=officer)

        for bad in ("1e400", "NaN", "Infinity", "-5", "12.345", "1" * 30, "ten", ""):
            body = assert_flat_error(await propose({"daily_kes": bad}), 422, "invalid_limit")
            assert body["message"].startswith("daily_kes: ")
        assert_flat_error(await propose({"daily_kes": 1.5}), 422, "invalid_request")  # floats are not money
        assert_flat_error(await propose({"daily_kes": True}), 422, "invalid_request")
        unknown = assert_flat_error(await propose({"weekly_kes": "5"}), 422, "unknown_limit")
        assert "per_transaction_kes" in unknown["message"]
        # T0 defaults: per transaction 5,000, daily 10,000, monthly 50,000.
        over_daily = assert_flat_error(
            await propose({"per_transaction_kes": "10000.01"}), 422, "invalid_limit"
        )
        assert "per_transaction_kes" in over_daily["message"] and "daily_kes" in over_daily["message"]
        over_monthly = assert_flat_error(await propose({"daily_kes": "60000"}), 422, "invalid_limit")
        assert "monthly_kes" in over_monthly["message"]
        assert_flat_error(await propose({"monthly_kes": "9999"}), 422, "invalid_limit")
        assert (await propose({"crypto_withdrawal_kes": "0"})).status_code == 201
        assert (await propose({"daily_kes": "60,000", "monthly_kes": "60000.00"})).status_code == 201
    assert await count(factory, LimitChange) == 2


async def test_a_limit_change_that_no_longer_fits_is_refused_when_decided(factory, clock) -> None:
    async with factory() as session, session.begin():
        first = await kyc.propose_limit_change(
            session=session,
            tier=0,
            limits_kes={"monthly_kes": "20000"},
            reason="x",
            actor="a",
            now=clock.now(),
        )
        second = await kyc.propose_limit_change(
            session=session, tier=0, limits_kes={"daily_kes": "30000"}, reason="y", actor="a", now=clock.now()
        )
    checker = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        applied = await client.post(
            f"{BASE}/limit-changes/{first.id}/decide", json={"approve": True}, headers=checker
        )
        assert applied.json()["status"] == "applied"
        again = await client.post(
            f"{BASE}/limit-changes/{first.id}/decide", json={"approve": True}, headers=checker
        )
        assert_flat_error(again, 409, "limit_change_not_pending")
        clash = await client.post(
            f"{BASE}/limit-changes/{second.id}/decide", json={"approve": True}, headers=checker
        )
        assert "monthly_kes" in assert_flat_error(clash, 422, "invalid_limit")["message"]


async def test_errors_are_specific(factory, clock, sqlite_url: str) -> None:
    async with factory() as session, session.begin():
        await add_customer(session, 80, clock.now())
        await add_staff(session, "gone@kibeti.test", clock.now(), active=False)
    officer = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        assert (
            await client.post(f"{BASE}/cases", json={"title": "t", "customer_id": 80}, headers=officer)
        ).status_code == 201
        closed = await client.post(f"{BASE}/cases/1/close", json={"disposition": "maybe"}, headers=officer)
        message = assert_flat_error(closed, 422, "invalid_disposition")["message"]
        assert all(
            d in message for d in ("false_positive", "no_further_action", "exit_relationship", "str_filed")
        )
        for who, reason in (
            ("nobody@kibeti.test", "not a staff user"),
            ("gone@kibeti.test", "not an active"),
        ):
            refused = await client.post(f"{BASE}/cases/1/assign", json={"assignee": who}, headers=officer)
            assert reason in assert_flat_error(refused, 422, "invalid_assignee")["message"]
        for when in ("2026-03-10T08:00:00", "2026-03-11T09:00:00+00:00"):  # naive; in the future
            late = await client.post(
                f"{BASE}/cases/1/escalate", json={"grounds": "g", "suspicion_at": when}, headers=officer
            )
            assert_flat_error(late, 422, "invalid_suspicion_at")
        listed = await client.get(f"{BASE}/cases?status=bogus", headers=officer)
        assert "investigating" in assert_flat_error(listed, 422, "invalid_status")["message"]
        alerts = await client.get(f"{BASE}/alerts?status=bogus", headers=officer)
        assert "in_case" in assert_flat_error(alerts, 422, "invalid_status")["message"]
        assert_flat_error(await client.get(f"{BASE}/cases/555", headers=officer), 404, "case_not_found")
    async with factory() as session:
        assert (await cases.get_case(session=session, case_id=1)).assigned_to == ""
    refused = run_cli(sqlite_url, "compliance", "cases", "--status", "bogus")
    assert refused.returncode == 2 and "bogus" in refused.stderr and "investigating" in refused.stderr
    missing = run_cli(sqlite_url, "compliance", "report", "str", "--case", "999")
    assert missing.returncode == 1 and "no case 999 (case_not_found)" in missing.stderr
    assert "Traceback" not in missing.stderr


async def test_customer_tier_follows_every_compliance_tier_change(
    factory, clock, full_lists: SanctionsList
) -> None:
    from compliance.flows import verify_identity_flow

    iprs = SimulatedIprs(lenient=True)
    async with factory() as session, session.begin():
        for number in (40, 41):
            await add_customer(session, number, clock.now())
        await store.save_version(session=session, lists=full_lists, loaded_by="t")
        clean = await verify_identity_flow(
            session=session, customer_id=40, full_name="Otieno Odhiambo", id_number="23456789",
            date_of_birth="1985-02-02", verifier=iprs, now=clock.now(),
        )  # fmt: skip
        listed = await verify_identity_flow(
            session=session, customer_id=41, full_name="Joseph Kony", id_number="34567890",
            date_of_birth="1964-09-18", verifier=iprs, now=clock.now(),
        )  # fmt: skip
    assert (clean.tier, listed.tier) == (1, 0)

    async def customer_tiers() -> dict[int, int]:
        async with factory() as session:
            found = await session.execute(
                select(Customer.id, Customer.kyc_tier).where(Customer.id.in_((40, 41)))
            )
            return {row[0]: row[1] for row in found}

    assert await customer_tiers() == {40: 1, 41: 0}
    async with factory() as session, session.begin():
        (await kyc.ensure_profile(session=session, customer_id=40, now=clock.now())).t2_review = "pending"
        await kyc.review_t2(
            session=session, customer_id=40, approve=True, reviewer="staff:1", now=clock.now()
        )
    assert await customer_tiers() == {40: 2, 41: 0}
    async with factory() as session:
        blocked = [
            r
            for r in (await audit_rows(factory))
            if r.action == "kyc.tier_changed" and r.subject == "customer:41"
        ]
        assert [(r.actor, r.details["from_tier"], r.details["to_tier"]) for r in blocked] == [
            ("customer:41", 0, 1),
            ("system", 1, 0),
        ]
        assert (await session.get(KycProfile, 41)).tier == 0  # type: ignore[union-attr]


async def test_ids_out_of_the_columns_range_are_refused_not_a_500(factory, clock) -> None:
    officer = {"Authorization": f"Bearer {await staff_token(factory, clock, 'compliance')}"}
    support = {"Authorization": f"Bearer {await staff_token(factory, clock, 'support')}"}
    admin = {"Authorization": f"Bearer {await staff_token(factory, clock, 'admin')}"}
    huge, beyond_int4 = 2**64, 2**31
    async with api_client(make_runtime(factory, clock)) as (_app, client):
        for method, url, body, who in [
            ("get", f"{BASE}/cases/{huge}", None, officer),
            ("get", f"{BASE}/alerts?customer_id={beyond_int4}", None, officer),
            ("post", f"{BASE}/customers/{beyond_int4}/freeze", {"frozen": True}, officer),
            ("get", f"{BASE}/customers/{beyond_int4}/kyc", None, officer),
            ("post", f"{BASE}/cases", {"title": "x", "customer_id": beyond_int4}, officer),
            ("post", f"{BASE}/cases", {"title": "x", "alert_ids": [huge]}, officer),
            ("get", f"{BASE}/documents/{huge}", None, officer),
            ("post", f"{BASE}/tiers/{beyond_int4}/limit-changes", {"limits_kes": {"daily_kes": "1"}, "reason": "x"}, officer),
            ("post", f"/api/staff/customers/{huge}/reset-pin", {"kyc_rechecked": True}, support),
            ("post", "/api/staff/api-keys", {"merchant_id": huge, "name": "n", "scopes": ["payments:read"]}, admin),
        ]:  # fmt: skip
            sent = {"json": body} if body is not None else {}
            answer = await getattr(client, method)(url, headers=who, **sent)
            assert_flat_error(answer, 422, "invalid_request")
