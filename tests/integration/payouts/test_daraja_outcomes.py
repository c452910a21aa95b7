"""Issue 11 item 1: what each Daraja answer to a payout (B2C, B2B) or an STK push leads to.

Only a documented "not processed" error code releases held funds; a 5xx without a Daraja error body,
a timeout, a connection lost after sending, an unknown code or an unreadable answer is an unknown
outcome: the payout waits, funds held, for the Transaction Status reconciler. Busy, unreachable and
refused-token answers were not processed either, but nothing is wrong with the payout: it is sent
again (status `created`), funds still held. Real PostgreSQL; Daraja answers through httpx.MockTransport.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core import runtime as runtime_module
from core.config import Settings
from core.ledger import service as ledger
from core.ledger.models import AccountKind, Hold, HoldStatus, PostingRequest
from core.money import Asset, Money
from core.payments import collections, service
from core.payments.models import MpesaCollection
from payouts import jobs, stk_rail
from payouts.adapter import Daraja
from payouts.mpesa import errors, results
from payouts.mpesa.client import DarajaClient, DarajaConfig, error_class
from payouts.mpesa.credentials import generate_test_certificate
from webapp.bootstrap import build_runtime

KES = Asset.KES
CERT = generate_test_certificate()
Answer = Callable[[httpx.Request], httpx.Response]


def answer(status: int, body: Any = None, *, raw: str | None = None) -> Answer:
    def respond(request: httpx.Request) -> httpx.Response:
        if raw is not None:
            return httpx.Response(status, text=raw)
        if body is None:
            return httpx.Response(status)
        if body == "ACCEPT":  # the real acceptance, echoing the request's ids
            sent = json.loads(request.content)
            return httpx.Response(
                200,
                json={
                    "ConversationID": "AG_20261205_0001",
                    "OriginatorConversationID": sent.get("OriginatorConversationID", ""),
                    "MerchantRequestID": "29115-1",
                    "CheckoutRequestID": "ws_CO_0001",
                    "ResponseCode": "0",
                    "ResponseDescription": "Accept the service request successfully.",
                },
            )
        return httpx.Response(status, json=body)

    return respond


def raises(exc: Exception) -> Answer:
    def respond(request: httpx.Request) -> httpx.Response:
        raise exc

    return respond


def envelope(code: str, message: str = "error") -> dict[str, str]:
    return {"requestId": "req-1", "errorCode": code, "errorMessage": message}


HELD, RELEASED = "held", "released"
# (case, Daraja's answer, payout state, funds)
PAYOUT_TABLE: list[tuple[str, Answer, str, str]] = [
    ("accepted", answer(200, "ACCEPT"), "accepted", HELD),
    ("502 empty", answer(502), "unknown", HELD),
    ("503 empty", answer(503), "unknown", HELD),
    ("504 html", answer(504, raw="<html>Gateway Time-out</html>"), "unknown", HELD),
    ("500 empty", answer(500), "unknown", HELD),
    ("500 unreadable", answer(500, raw="oops"), "unknown", HELD),
    ("500.003.1001 internal error", answer(500, envelope("500.003.1001", "Internal Server Error")), "unknown", HELD),
    ("500 unknown code", answer(500, envelope("500.009.9999")), "unknown", HELD),
    ("500.002.1001 duplicate", answer(500, envelope("500.002.1001", "Duplicate OriginatorConversationID.")), "unknown", HELD),
    ("400 without a Daraja body", answer(400), "unknown", HELD),
    ("200 unreadable", answer(200, raw="<html>ok</html>"), "unknown", HELD),
    ("200 ResponseCode 1", answer(200, {"ResponseCode": "1", "ResponseDescription": "?"}), "unknown", HELD),
    ("read timeout", raises(httpx.ReadTimeout("read timed out")), "unknown", HELD),
    ("connection lost after sending", raises(httpx.RemoteProtocolError("server disconnected")), "unknown", HELD),
    ("500.003.02 spike arrest", answer(500, envelope("500.003.02", "Spike arrest violation")), "created", HELD),
    ("500.003.03 quota", answer(500, envelope("500.003.03", "Quota violation")), "created", HELD),
    ("429 empty", answer(429), "created", HELD),
    ("401.002.01 token refused", answer(401, envelope("401.002.01", "Invalid Access Token")), "created", HELD),
    ("connect error", raises(httpx.ConnectError("connection refused")), "created", HELD),
    ("400.002.02 invalid field", answer(400, envelope("400.002.02", "Bad Request - Invalid PartyB")), "failed", RELEASED),
    ("400.002.05 invalid payload", answer(400, envelope("400.002.05", "Invalid Request Payload")), "failed", RELEASED),
    ("404.001.01 wrong endpoint", answer(404, envelope("404.001.01", "Resource not found")), "failed", RELEASED),
    ("405.001 not a POST", answer(405, envelope("405.001", "Method not allowed")), "failed", RELEASED),
]  # fmt: skip


class StaticTokens:
    async def get(self) -> str:
        return "token"

    async def invalidate(self, token: str) -> None:
        return None


def rig(respond: Answer) -> tuple[Daraja, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    config = DarajaConfig(
        base_url="http://daraja",
        consumer_key="k",
        consumer_secret="s",
        shortcode="600000",
        passkey="pk",
        initiator_name="testapi",
        initiator_password="pw",
        certificate_pem=CERT[0],
        callback_base_url="http://app",
        callback_token="tok-0123456789abcdef0123",
    )
    return Daraja(DarajaClient(config, http=http, tokens=StaticTokens()), None), http


@pytest.fixture
async def rt(clean_pg_url, monkeypatch):
    monkeypatch.setattr(jobs, "BUSY_BACKOFF_S", (0.0,))
    current = build_runtime(Settings(kibeti_env="test", database_url=clean_pg_url, redis_url=""))  # type: ignore[arg-type]
    runtime_module.install(current)
    yield current
    await current.session_factory.kw["bind"].dispose()


async def _claimed_payout(rt, kind: str) -> tuple[str, int]:
    async with rt.session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=7, asset=KES
        )
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        money = Money.of(1000, KES)
        await ledger.post_entry(
            session=session,
            idempotency_key="seed-7",
            kind="deposit",
            postings=[PostingRequest(float_account.id, -money), PostingRequest(wallet.id, money)],
        )
        payout = await service.create_payout(
            session=session,
            idempotency_key="sell-7",
            account_id=wallet.id,
            phone="0712345678" if kind == "b2c" else "123456",
            amount=Money.of(400, KES),
            customer_id=7 if kind == "b2c" else None,
            kind=kind,
        )
        await session.commit()
    async with rt.session_factory() as session:
        claim = await service.claim_for_send(session=session, payout_id=payout.id)
        await session.commit()
    assert claim.send
    return payout.id, wallet.id


@pytest.mark.parametrize("kind", ["b2c", "b2b"])
@pytest.mark.parametrize(
    ("case", "respond", "state", "funds"), PAYOUT_TABLE, ids=[row[0] for row in PAYOUT_TABLE]
)
async def test_each_daraja_answer_leads_to_its_payout_state(rt, kind, case, respond, state, funds):
    payout_id, wallet_id = await _claimed_payout(rt, kind)
    d, http = rig(respond)
    async with rt.session_factory() as session:
        payout = await service.get_payout(session=session, payout_id=payout_id)
    try:
        await jobs._send(d, payout, None)
    finally:
        await http.aclose()
    async with rt.session_factory() as session:
        payout = await service.get_payout(session=session, payout_id=payout_id)
        hold = await session.get(Hold, payout.hold_id)
        available = await ledger.available(session=session, account_id=wallet_id)
    assert payout.status == state, case
    if funds == HELD:
        assert hold.status == HoldStatus.PENDING.value and available == Money.of(600, KES)
    else:
        assert hold.status == HoldStatus.VOIDED.value and available == Money.of(1000, KES)


# STK push: the same rule (no funds are held; a push whose outcome is unknown is never failed here)
STK_TABLE: list[tuple[str, Answer, str]] = [
    ("accepted", answer(200, "ACCEPT"), "requested"),
    ("502 empty", answer(502), "requesting"),
    ("read timeout", raises(httpx.ReadTimeout("read timed out")), "requesting"),
    ("500.003.1001 internal error", answer(500, envelope("500.003.1001")), "requesting"),
    ("500.003.02 spike arrest", answer(500, envelope("500.003.02")), "created"),
    ("connect error", raises(httpx.ConnectError("refused")), "created"),
    ("500.001.1001 unable to lock subscriber", answer(500, envelope("500.001.1001", "Unable to lock subscriber")), "failed"),
    ("400.002.02 invalid field", answer(400, envelope("400.002.02", "Bad Request - Invalid PhoneNumber")), "failed"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "respond", "state"), STK_TABLE, ids=[row[0] for row in STK_TABLE])
async def test_each_daraja_answer_leads_to_its_stk_state(rt, monkeypatch, case, respond, state):
    async with rt.session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=8, asset=KES
        )
        row = await collections.create_collection(
            session=session,
            idempotency_key="buy-8",
            customer_id=8,
            account_id=wallet.id,
            phone="0712345678",
            amount=Money.of(100, KES),
        )
        await session.commit()
        collection_id = row.id
    d, http = rig(respond)

    class _Scope:
        async def __aenter__(self) -> Daraja:
            return d

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(jobs, "daraja", lambda current: _Scope())
    monkeypatch.setattr(stk_rail, "daraja", lambda current: _Scope())  # the push goes through the rail port
    try:
        await jobs._request_stk_push(collection_id)
    except jobs.RetryLater:
        pass
    finally:
        await http.aclose()
    async with rt.session_factory() as session:
        row = await session.get(MpesaCollection, collection_id)
    assert row.status == state, case


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (502, "", errors.DarajaOutcomeUnknown),
        (503, "", errors.DarajaOutcomeUnknown),
        (504, "", errors.DarajaOutcomeUnknown),
        (500, "500.003.1001", errors.DarajaOutcomeUnknown),
        (500, "500.002.1001", errors.DuplicateOriginatorConversationID),
        (500, "500.003.02", errors.DarajaBusy),
        (500, "500.003.03", errors.DarajaBusy),
        (429, "", errors.DarajaBusy),
        (401, "401.002.01", errors.DarajaAuthError),
        (404, "404.001.03", errors.DarajaAuthError),
        (400, "400.002.02", errors.DarajaRejected),
        (400, "400.002.05", errors.DarajaRejected),
        (404, "404.001.01", errors.DarajaRejected),
        (500, "500.001.1001", errors.DarajaRejected),
        (400, "", errors.DarajaOutcomeUnknown),
    ],
)
def test_error_classes(status, code, expected):
    assert error_class("b2c", status, code, "") is expected
    assert not issubclass(errors.DarajaOutcomeUnknown, errors.DarajaRejected)


# The asynchronous B2C result: documented "not paid" codes fail the payout and release the funds;
# busy codes send it again under a new id; anything else (15 Duplicate Detected, an undocumented
# code) leaves it unknown, funds held, for Transaction Status.
RESULT_TABLE: list[tuple[str, str, str]] = [
    ("0", "succeeded", "posted"),
    *[(code, "failed", RELEASED) for code in ("1", "2", "3", "4", "8", "11", "21", "2001", "2006", "2028",
                                              "2040", "8006", "SFC_IC0003")],
    *[(code, "created", HELD) for code in ("17", "26", "100000001", "100000002")],
    *[(code, "unknown", HELD) for code in ("15", "SVC0403", "9999", "R000001")],
]  # fmt: skip


@pytest.mark.parametrize(("code", "state", "funds"), RESULT_TABLE, ids=[row[0] for row in RESULT_TABLE])
async def test_each_b2c_result_code_leads_to_its_payout_state(rt, code, state, funds):
    payout_id, wallet_id = await _claimed_payout(rt, "b2c")
    async with rt.session_factory() as session:
        await service.mark_accepted(session=session, payout_id=payout_id, conversation_id="AG_1")
        await service.apply_payout_result(
            session=session, originator_conversation_id=payout_id, conversation_id="AG_1",
            result=results.b2c_result(code, "desc"), receipt="SABC123", amount=None,
        )  # fmt: skip
        await session.commit()
    async with rt.session_factory() as session:
        payout = await service.get_payout(session=session, payout_id=payout_id)
        hold = await session.get(Hold, payout.hold_id)
        available = await ledger.available(session=session, account_id=wallet_id)
    assert payout.status == state
    expected = {
        HELD: (HoldStatus.PENDING, 600),
        RELEASED: (HoldStatus.VOIDED, 1000),
        "posted": (HoldStatus.POSTED, 600),
    }
    hold_status, left = expected[funds]
    assert hold.status == hold_status.value and available == Money.of(left, KES)
