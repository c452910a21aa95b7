"""Paybill (C2B) top-ups through the callback router, on PostgreSQL and SQLite: the account number
is the customer's phone in any form (or their customer number); validation refuses what cannot be
matched. A confirmation is only a claim: it is recorded as pending and our own Transaction Status
query (to the Daraja simulator, in-process) decides; a confirmed payment books once per TransID, with
the amount Daraja reports, and what cannot be matched waits in suspense, flagged. A confirmation
Daraja never saw (a forgery with a valid path token) books nothing (issue 11 item 0)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from core import runtime as runtime_module
from core.audit.models import AuditEntry
from core.auth import sessions
from core.auth.models import StaffUser
from core.config import Settings
from core.identity import service as identity
from core.identity.models import Customer, CustomerStatus
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType
from core.ledger.verify import verify
from core.money import Asset, Money
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments import confirmed
from core.payments.models import C2BStatus, MpesaC2BPayment, MpesaCallback
from core.runtime import Runtime
from payouts import adapter, jobs
from payouts.mpesa.credentials import generate_test_certificate
from simulators.daraja.simulator import Simulator, create_app
from simulators.daraja.state import C2BTxn, SimConfig
from webapp.api.mpesa import router
from webapp.bootstrap import build_runtime
from webapp.middleware import install_error_handlers

TOKEN = "c2b-test-token-0123456789abcdef"
PHONE = "+254712345678"
CERT = generate_test_certificate()


class Paybill:
    def __init__(
        self, app: FastAPI, http: httpx.AsyncClient, rt: Runtime, customer_id: int, sim: Simulator
    ) -> None:
        self.app, self.http, self.rt, self.customer_id, self.sim = app, http, rt, customer_id, sim

    async def post(self, kind: str, body: object) -> httpx.Response:
        response = await self.http.post(f"/cb/{TOKEN}/c2b/{kind}", json=body)
        assert response.status_code == 200, response.text
        return response

    def paid(self, body: dict[str, object]) -> None:
        """A handset really paid this: Daraja (the simulator) knows the TransID and its amount."""
        trans_id = str(body["TransID"])
        self.sim.state.c2b[trans_id] = C2BTxn(
            trans_id=trans_id,
            msisdn="254712345678",
            amount=Decimal(str(body["TransAmount"])),
            bill_ref=str(body.get("BillRefNumber")),
            shortcode="600000",
            trans_time="20261126103000",
            status="completed",
        )

    async def confirm(self, body: dict[str, object], *, times: int = 1) -> None:
        """A paid payment's confirmation(s), then our Transaction Status query and its answer."""
        self.paid(body)
        for _ in range(times):
            await self.post("confirmation", body)
        await self.settle()

    async def settle(self) -> None:
        """Run the staged confirmation queries (the outbox relay's work) and deliver their results."""
        while True:
            async with self.rt.session_factory() as session:
                staged = (
                    (
                        await session.execute(
                            select(OutboxJob).where(
                                OutboxJob.job == "payouts.jobs.confirm_c2b",
                                OutboxJob.status != OutboxStatus.DONE.value,
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            if not staged:
                break
            for job in staged:
                await jobs.confirm_c2b(outbox_id=job.id, **job.kwargs)
            await self.sim.drain()

    async def payments(self) -> dict[str, MpesaC2BPayment]:
        async with self.rt.session_factory() as session:
            rows = (await session.execute(select(MpesaC2BPayment))).scalars().all()
        return {r.trans_id: r for r in rows}

    async def wallet(self, customer_id: int | None = None) -> Money:
        async with self.rt.session_factory() as session:
            account = await ledger.get_or_open_account(
                session=session,
                owner_type=OwnerType.CUSTOMER,
                owner_id=customer_id or self.customer_id,
                asset=Asset.KES,
                kind=AccountKind.WALLET,
            )
            await session.commit()
            return await ledger.balance(session=session, account_id=account.id)

    async def suspense(self) -> Money:
        async with self.rt.session_factory() as session:
            account = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
            await session.commit()
            return await ledger.balance(session=session, account_id=account.id)

    async def rows(self, kind: str = "c2b_confirmation") -> list[MpesaCallback]:
        async with self.rt.session_factory() as session:
            query = select(MpesaCallback).where(MpesaCallback.kind == kind).order_by(MpesaCallback.id)
            return list((await session.execute(query)).scalars().all())

    async def books_balance(self) -> bool:
        async with self.rt.session_factory() as session:
            return (await verify(session=session)).ok


@pytest.fixture
async def paybill(db_url, monkeypatch):
    settings = Settings(
        kibeti_env="test",
        database_url=db_url,
        redis_url="",
        mpesa_callback_token=TOKEN,
        mpesa_base_url="http://sim",
        mpesa_callback_base_url="http://app",
    )  # type: ignore[call-arg]
    rt = build_runtime(settings)
    runtime_module.install(rt)
    async with rt.session_factory() as session:
        customer = await identity.register_customer(
            session=session,
            phone="0712 345 678",
            name="Amina",
            national_id="12345678",
            language="en",
            pin="4826",
        )
        await session.commit()
    app = FastAPI()
    install_error_handlers(app)  # the app's own error shape
    app.include_router(router)
    sim = Simulator(
        SimConfig(callback_delay_s=0.0), certificate=CERT, callback_transport=httpx.ASGITransport(app=app)
    )
    monkeypatch.setattr(adapter, "TRANSPORT", httpx.ASGITransport(app=create_app(sim)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        yield Paybill(app, http, rt, customer.id, sim)
    await sim.aclose()
    await rt.session_factory.kw["bind"].dispose()


def payment(trans_id: str, account: str, amount: str = "100") -> dict[str, str]:
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20261126103000",
        "TransAmount": amount,
        "BusinessShortCode": "600000",
        "BillRefNumber": account,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": "25471****678",
        "FirstName": "Amina",
        "MiddleName": "",
        "LastName": "",
    }


ACCOUNT_FORMS = ["0712345678", "254712345678", "+254712345678", "0712 345 678", "712345678"]


async def test_every_phone_form_and_the_customer_number_validate_and_credit(paybill):
    forms = [*ACCOUNT_FORMS, str(paybill.customer_id)]
    for n, account in enumerate(forms):
        body = payment(f"RKT{n:07d}", account)
        reply = (await paybill.post("validation", body)).json()
        assert reply == {"ResultCode": "0", "ResultDesc": "Accepted"}, account
        await paybill.confirm(body)
    assert await paybill.wallet() == Money.of(100 * len(forms), Asset.KES)
    assert [r.outcome for r in await paybill.rows()] == ["pending"] * len(forms)
    assert [r.outcome for r in await paybill.rows("status_result")] == ["credited"] * len(forms)
    assert {p.status for p in (await paybill.payments()).values()} == {C2BStatus.CREDITED.value}
    assert [r.outcome for r in await paybill.rows("c2b_validation")] == ["accepted"] * len(forms)
    assert await paybill.suspense() == Money.of(0, Asset.KES)
    assert await paybill.books_balance()


async def test_a_duplicate_confirmation_credits_once(paybill):
    body = payment("RKTDUP0001", "0712345678", "250")
    await paybill.confirm(body, times=3)
    await paybill.post("confirmation", body)  # and once more after it was booked
    await paybill.settle()
    assert await paybill.wallet() == Money.of(250, Asset.KES)
    rows = await paybill.rows()
    assert [r.outcome for r in rows] == ["pending", "duplicate", "duplicate", "duplicate"]
    assert not any(r.flagged for r in rows)


async def test_an_unknown_account_is_refused_and_a_confirmation_anyway_waits_in_suspense(paybill):
    body = payment("RKTUNK0001", "0799999999", "300")
    reply = (await paybill.post("validation", body)).json()
    assert reply == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
    await paybill.confirm(body, times=2)  # Daraja confirms even with validation off; and duplicates
    assert await paybill.suspense() == Money.of(300, Asset.KES)
    assert await paybill.wallet() == Money.of(0, Asset.KES)
    assert [r.outcome for r in await paybill.rows()] == ["pending", "duplicate"]
    (status,) = await paybill.rows("status_result")
    assert (status.outcome, status.flagged) == ("suspense", True)
    assert "RKTUNK0001" in (status.flag_reason or "") and "0799999999" in (status.flag_reason or "")
    assert await paybill.books_balance()


@pytest.mark.parametrize("account", ["", "ABC123", "0", "99999999999999999999", "+1 202 555 0100", "²", "٤٢"])
async def test_accounts_that_name_nobody_are_refused(paybill, account):
    reply = (await paybill.post("validation", payment("RKTNOB0001", account))).json()
    assert reply["ResultCode"] == "C2B00012"


async def test_a_closed_customer_is_refused_and_their_late_confirmation_held(paybill):
    async with paybill.rt.session_factory() as session:
        customer = await session.get(Customer, paybill.customer_id)
        customer.status = CustomerStatus.CLOSED.value
        await session.commit()
    body = payment("RKTCLS0001", "0712345678", "40")
    assert (await paybill.post("validation", body)).json()["ResultCode"] == "C2B00012"
    await paybill.confirm(body)
    assert await paybill.suspense() == Money.of(40, Asset.KES)
    assert await paybill.wallet() == Money.of(0, Asset.KES)


@pytest.mark.parametrize(
    "amount", ["0", "-1", "0.50", "10.5", "250001", "abc", "", "NaN", "Infinity", "1e400"]
)
async def test_validation_refuses_amounts_outside_mpesa_limits(paybill, amount):
    reply = (await paybill.post("validation", payment("RKTAMT0001", "0712345678", amount))).json()
    assert reply == {"ResultCode": "C2B00013", "ResultDesc": "Rejected"}


@pytest.mark.parametrize("amount", ["1", "250000", "250000.00"])
async def test_validation_accepts_the_limits_themselves(paybill, amount):
    reply = (await paybill.post("validation", payment("RKTAMT0002", "0712345678", amount))).json()
    assert reply["ResultCode"] == "0"


async def test_a_confirmed_amount_outside_the_limits_is_held_not_credited(paybill):
    await paybill.confirm(payment("RKTBIG0001", "0712345678", "250001"))
    await paybill.confirm(payment("RKTCNT0001", "0712345678", "10.50"))
    assert await paybill.wallet() == Money.of(0, Asset.KES)
    assert await paybill.suspense() == Money.of("250011.50", Asset.KES)
    assert [(r.outcome, r.flagged) for r in await paybill.rows("status_result")] == [("suspense", True)] * 2


MALFORMED = [
    "not json at all",
    "[1, 2, 3]",
    "{}",
    '{"TransAmount": "10", "BillRefNumber": "0712345678"}',
    '{"TransID": "RKTBAD0001", "TransAmount": "abc", "BillRefNumber": "0712345678"}',
    '{"TransID": "RKTBAD0002", "TransAmount": "NaN", "BillRefNumber": "0712345678"}',
    '{"TransID": "RKTBAD0003", "TransAmount": "-5", "BillRefNumber": "0712345678"}',
    '{"TransID": "RKTBAD0004", "TransAmount": "1e400", "BillRefNumber": "0712345678"}',
    '{"TransID": "RKTBAD0005", "TransAmount": "10.001", "BillRefNumber": "0712345678"}',
    '{"TransID": ["x"], "TransAmount": "10", "BillRefNumber": "0712345678"}',
    '{"TransID": "' + "X" * 200 + '", "TransAmount": "10", "BillRefNumber": "0712345678"}',
]


@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_confirmations_are_recorded_answered_200_and_flagged(paybill, raw):
    response = await paybill.http.post(
        f"/cb/{TOKEN}/c2b/confirmation", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    (row,) = await paybill.rows()
    assert row.raw == raw and row.processed and row.flagged and row.outcome == "malformed"
    assert await paybill.wallet() == Money.of(0, Asset.KES)
    assert await paybill.books_balance()


@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_validations_are_recorded_and_refused(paybill, raw):
    response = await paybill.http.post(
        f"/cb/{TOKEN}/c2b/validation", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["ResultCode"] in ("C2B00013", "C2B00016")
    (row,) = await paybill.rows("c2b_validation")
    assert row.raw == raw and row.processed


async def test_an_odd_account_field_goes_to_suspense_not_to_a_crash(paybill):
    body: dict[str, object] = {**payment("RKTODD0001", "x"), "BillRefNumber": {"nested": [1]}}
    await paybill.confirm(body)
    await paybill.confirm(payment("RKTODD0002", "²"))
    assert await paybill.suspense() == Money.of(200, Asset.KES)
    assert [(r.processed, r.outcome) for r in await paybill.rows()] == [(True, "pending")] * 2
    assert [r.outcome for r in await paybill.rows("status_result")] == ["suspense"] * 2


async def test_the_simulator_pays_the_paybill_validation_then_confirmation_twice(paybill):
    sim = paybill.sim
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sim)), base_url="http://sim"
    ) as daraja:
        refused = await daraja.post(
            "/simulator/c2b/pay", json={"msisdn": "254712345678", "amount": "500", "account": "x"}
        )
        assert refused.status_code == 400  # no URLs registered yet
        token = (
            await daraja.get(
                "/oauth/v1/generate", params={"grant_type": "client_credentials"}, auth=("k", "s")
            )
        ).json()
        base = f"http://app/cb/{TOKEN}"
        registered = await daraja.post(
            "/mpesa/c2b/v2/registerurl",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            json={"ShortCode": "600000", "ResponseType": "Completed", "ConfirmationURL": f"{base}/c2b/confirmation",
                  "ValidationURL": f"{base}/c2b/validation"},
        )  # fmt: skip
        assert registered.json()["ResponseCode"] == "0"
        paid = (
            await daraja.post(
                "/simulator/c2b/pay",
                json={"msisdn": "254712345678", "amount": "500", "account": "0712345678", "deliveries": 2},
            )
        ).json()
        assert (paid["status"], paid["validation"], paid["confirmations"]) == ("completed", "0", 2)
        rejected = (
            await daraja.post(
                "/simulator/c2b/pay", json={"msisdn": "254712345678", "amount": "70", "account": "0799999999"}
            )
        ).json()
        assert (rejected["status"], rejected["validation"], rejected["confirmations"]) == (
            "rejected",
            "C2B00012",
            0,
        )
        unvalidated = (
            await daraja.post(
                "/simulator/c2b/pay",
                json={"msisdn": "254712345678", "amount": "70", "account": "0799999999", "validation": False},
            )
        ).json()
        assert (unvalidated["status"], unvalidated["validation"]) == ("completed", "off")
        sent = [
            c for c in (await daraja.get("/simulator/callbacks")).json() if c["kind"] == "c2b_confirmation"
        ]
        assert sent[0]["body"]["MSISDN"] == "25471****678"  # masked, as Daraja sends it
    assert await paybill.wallet() == Money.of(0, Asset.KES)  # nothing before Transaction Status says so
    await paybill.settle()
    assert await paybill.wallet() == Money.of(500, Asset.KES)
    assert await paybill.suspense() == Money.of(70, Asset.KES)
    assert [r.outcome for r in await paybill.rows()] == ["pending", "duplicate", "pending"]
    assert sorted(r.outcome or "" for r in await paybill.rows("status_result")) == ["credited", "suspense"]


NUL_BODIES = [
    '{"TransID": "RKTNUL0001", "TransAmount": "10", "BillRefNumber": "0712345678\\u0000"}',
    '{"TransID": "RKTNUL0002", "TransAmount": "10", "BillRefNumber": "\\u0000", "MSISDN": "\\u0000"}',
    '{"TransID": "RKTNUL0003", "TransAmount": "10", "BillRefNumber": "07123\x0045678"}',  # a raw NUL
]


@pytest.mark.parametrize("raw", NUL_BODIES)
async def test_nul_characters_never_break_the_record_or_the_books(paybill, raw):
    """PostgreSQL text cannot hold NUL: the raw body is stored with it replaced, never a 500."""
    paybill.paid(json.loads(raw.replace("\x00", "")))
    for kind in ("validation", "confirmation"):
        response = await paybill.http.post(
            f"/cb/{TOKEN}/c2b/{kind}", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
    await paybill.settle()
    (row,) = await paybill.rows()
    assert (row.processed, row.outcome) == (True, "pending")
    (status,) = await paybill.rows("status_result")
    assert (status.flagged, status.outcome) == (True, "suspense")
    assert await paybill.suspense() == Money.of(10, Asset.KES)


async def _staff_token(rt: Runtime, role: str, email: str = "") -> dict[str, str]:
    async with rt.session_factory() as session:
        staff = StaffUser(
            email=email or f"{role}@kibeti.test",
            role=role,
            password_hash="x",
            totp_secret="x",
            last_totp_step=0,
            active=True,
            failed_logins=0,
            created_at=rt.clock.now(),
        )
        session.add(staff)
        await session.flush()
        secret = rt.settings.secret_key.get_secret_value()
        pair = await sessions.start(session=session, staff=staff, clock=rt.clock, secret_key=secret)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_finance_releases_a_suspense_payment_to_the_customer_once(paybill):
    async with paybill.rt.session_factory() as session:
        other = await identity.register_customer(
            session=session,
            phone="0722000111",
            name="Baraka",
            national_id="23456789",
            language="en",
            pin="4826",
        )
        await session.commit()
    await paybill.confirm(payment("RKTTYPO001", "07I2345678", "300"))  # a mistyped account
    assert await paybill.suspense() == Money.of(300, Asset.KES)
    finance, support = await _staff_token(paybill.rt, "finance"), await _staff_token(paybill.rt, "support")
    url = "/api/staff/payouts/c2b/RKTTYPO001/release"

    assert (await paybill.http.post(url, json={"account": "0712345678"})).status_code == 401
    assert (await paybill.http.post(url, json={"account": "0712345678"}, headers=support)).status_code == 403
    nobody = await paybill.http.post(url, json={"account": "0799999999"}, headers=finance)
    assert nobody.status_code == 422 and nobody.json()["code"] == "c2b_no_such_customer"
    missing = await paybill.http.post(
        "/api/staff/payouts/c2b/RKTNONE001/release", json={"account": "0712345678"}, headers=finance
    )
    assert missing.status_code == 404

    # maker-checker: one finance member proposes, a different one carries it out
    proposed = await paybill.http.post(url, json={"account": "+254 712 345 678"}, headers=finance)
    assert proposed.status_code == 202 and proposed.json()["status"] == "pending_approval", proposed.text
    assert (await paybill.http.post(url, json={"account": "0712345678"}, headers=finance)).status_code == 202
    assert await paybill.suspense() == Money.of(300, Asset.KES)
    checker = await _staff_token(paybill.rt, "finance", "checker@kibeti.test")
    done = await paybill.http.post(url, json={"account": "0712345678"}, headers=checker)
    assert done.status_code == 200, done.text
    assert done.json() == {
        "trans_id": "RKTTYPO001",
        "customer_id": paybill.customer_id,
        "amount": "300.00",
        "already_released": False,
    }
    again = await paybill.http.post(url, json={"account": "0712345678"}, headers=finance)
    assert again.status_code == 200 and again.json()["already_released"] is True
    elsewhere = await paybill.http.post(url, json={"account": "0722000111"}, headers=finance)
    assert elsewhere.status_code == 409

    assert await paybill.wallet() == Money.of(300, Asset.KES)
    assert await paybill.wallet(other.id) == Money.of(0, Asset.KES)
    assert await paybill.suspense() == Money.of(0, Asset.KES)
    async with paybill.rt.session_factory() as session:
        actions = (await session.execute(select(AuditEntry.action, AuditEntry.subject))).all()
    assert actions.count(("c2b.release_from_suspense", f"customer:{paybill.customer_id}")) == 1
    assert await paybill.books_balance()
    await paybill.confirm(payment("RKTTYPO002", "0712345678", "5"))  # credited: nothing to release
    not_held = await paybill.http.post(
        "/api/staff/payouts/c2b/RKTTYPO002/release", json={"account": "0712345678"}, headers=finance
    )
    assert not_held.status_code == 404


async def test_a_forged_confirmation_with_the_path_token_credits_nothing(paybill):
    """Issue 11 item 0: an invented TransID for KES 250,000, sent twice with the valid path token."""
    for trans_id in ("RKTFAKE001", "RKTFAKE002"):
        await paybill.post("confirmation", payment(trans_id, "0712345678", "250000"))
    async with paybill.rt.session_factory() as session:  # pending and visible as such, not spendable
        waiting = await confirmed.pending_for_customer(session=session, customer_id=paybill.customer_id)
    assert [(p.kind, p.reference, p.amount) for p in waiting] == [
        ("paybill", "RKTFAKE001", Money.of(250000, Asset.KES)),
        ("paybill", "RKTFAKE002", Money.of(250000, Asset.KES)),
    ]
    assert await paybill.wallet() == Money.of(0, Asset.KES)
    await paybill.settle()  # our Transaction Status query: Daraja never saw these
    assert await paybill.wallet() == Money.of(0, Asset.KES)
    assert await paybill.suspense() == Money.of(0, Asset.KES)
    assert {p.status for p in (await paybill.payments()).values()} == {C2BStatus.NOT_FOUND.value}
    statuses = await paybill.rows("status_result")
    assert [(r.outcome, r.flagged) for r in statuses] == [("c2b_not_confirmed", True)] * 2
    async with paybill.rt.session_factory() as session:
        assert await confirmed.pending_for_customer(session=session, customer_id=paybill.customer_id) == []
    assert await paybill.books_balance()


async def test_a_forged_status_result_is_matched_to_nothing(paybill):
    """The status result must answer OUR query (its ConversationID): a made-up 'Completed' books nothing."""
    body = payment("RKTFAKE003", "0712345678", "5000")
    await paybill.post("confirmation", body)
    forged = {
        "Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "ok",
            "OriginatorConversationID": "guess", "ConversationID": "AG_20261205_guess",
            "TransactionID": "RKTFAKE003",
            "ResultParameters": {"ResultParameter": [
                {"Key": "TransactionStatus", "Value": "Completed"}, {"Key": "Amount", "Value": 5000},
                {"Key": "ReceiptNo", "Value": "RKTFAKE003"},
            ]},
        }
    }  # fmt: skip
    assert (await paybill.http.post(f"/cb/{TOKEN}/status/result", json=forged)).status_code == 200
    assert await paybill.wallet() == Money.of(0, Asset.KES)
    assert (await paybill.payments())["RKTFAKE003"].status == C2BStatus.PENDING.value
    await paybill.settle()
    assert await paybill.wallet() == Money.of(0, Asset.KES)
    assert (await paybill.payments())["RKTFAKE003"].status == C2BStatus.NOT_FOUND.value


async def test_the_amount_daraja_confirms_is_booked_not_the_claimed_one(paybill):
    body = payment("RKTAMTX001", "0712345678", "100")
    paybill.paid(body)  # really paid: KES 100
    await paybill.post("confirmation", {**body, "TransAmount": "250000"})  # the body claims more
    await paybill.settle()
    assert await paybill.wallet() == Money.of(100, Asset.KES)
    row = (await paybill.payments())["RKTAMTX001"]
    assert (row.status, row.amount_minor, row.claimed_minor) == (C2BStatus.CREDITED.value, 10000, 25000000)
    (status,) = await paybill.rows("status_result")
    assert status.outcome == "credited" and "250000" in (status.flag_reason or "")


async def test_no_stored_row_holds_the_path_token(paybill):
    await paybill.confirm(payment("RKTTOK0001", "0712345678", "10"))
    async with paybill.rt.session_factory() as session:
        from payouts.models import MpesaApiCall

        calls = (await session.execute(select(MpesaApiCall))).scalars().all()
        callbacks = (await session.execute(select(MpesaCallback))).scalars().all()
    assert calls and all(TOKEN not in f"{c.request}{c.response}{c.path}{c.error}" for c in calls)
    assert all(TOKEN not in f"{c.raw}{c.body}{c.reference}{c.flag_reason}" for c in callbacks)


async def test_a_result_echoing_our_callback_url_is_stored_without_the_token(paybill):
    """Daraja's B2C results carry ReferenceData with the QueueTimeoutURL we gave it."""
    echo = {
        "Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "ok", "OriginatorConversationID": "nobody",
            "ConversationID": "AG_1", "TransactionID": "RKTECHO001",
            "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": f"https://k.example/cb/{TOKEN}/b2c/timeout"}},
        }
    }  # fmt: skip
    response = await paybill.http.post(f"/cb/{TOKEN}/b2c/result", json=echo)
    assert response.status_code == 200
    async with paybill.rt.session_factory() as session:
        rows = (await session.execute(select(MpesaCallback))).scalars().all()
    assert rows and all(TOKEN not in f"{c.raw}{c.body}{c.reference}{c.flag_reason}" for c in rows)
    assert any("/cb/***/b2c/timeout" in c.raw for c in rows)


async def test_a_query_that_never_ran_is_asked_again_by_the_reconciler(paybill):
    body = payment("RKTLOST001", "0712345678", "60")
    paybill.paid(body)
    await paybill.post("confirmation", body)  # its staged Transaction Status job is lost
    counts = await jobs.reconcile_stuck_payouts(older_than_s=0)
    await paybill.sim.drain()
    assert counts["paybill"] == 1
    assert await paybill.wallet() == Money.of(60, Asset.KES)
    await paybill.settle()  # the lost job turning up later changes nothing
    assert await paybill.wallet() == Money.of(60, Asset.KES)
    assert (await paybill.payments())["RKTLOST001"].status == C2BStatus.CREDITED.value


async def test_staff_see_what_waits_for_daraja(paybill):
    await paybill.post("confirmation", payment("RKTWAIT001", "0712345678", "120"))
    url = "/api/staff/payouts/pending-mpesa"
    assert (await paybill.http.get(url)).status_code == 401
    listed = await paybill.http.get(url, headers=await _staff_token(paybill.rt, "finance"))
    assert listed.status_code == 200
    assert [(p["kind"], p["reference"], p["amount"], p["customer_id"]) for p in listed.json()] == [
        ("paybill", "RKTWAIT001", "120.00", paybill.customer_id)
    ]
    await paybill.settle()  # Daraja never saw it: no longer waiting, nothing booked
    assert (await paybill.http.get(url, headers=await _staff_token(paybill.rt, "support"))).json() == []
