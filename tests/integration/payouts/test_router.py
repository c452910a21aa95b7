"""The callback router in-process (ASGI): bad bodies are recorded, answered 200 and flagged; C2B;
the staff view of RQ's failed-job registry."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from core import runtime as runtime_module
from core.auth import sessions
from core.auth.models import StaffUser
from core.config import Settings
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from core.payments import confirmed
from core.payments.models import MpesaCallback
from webapp.api.mpesa import router
from webapp.bootstrap import build_runtime

TOKEN = "router-test-token-0123456789abcdef"
SECRET = "router-test-secret-key-0123456789abcdefghijkl"


@pytest.fixture
async def client(db_url, redis_url):
    settings = Settings(
        kibeti_env="test",
        database_url=db_url,
        redis_url=redis_url,
        mpesa_callback_token=TOKEN,  # type: ignore[arg-type]
        secret_key=SECRET,  # type: ignore[arg-type]
    )
    current = build_runtime(settings)
    runtime_module.install(current)
    app = FastAPI()
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
        yield http, current
    await current.session_factory.kw["bind"].dispose()


BAD_BODIES = [
    ("b2c/result", {"Result": []}),  # a list where an object was expected
    ("b2c/result", {"Result": {"ResultDesc": "no code"}}),  # missing keys
    ("b2c/result", [1, 2, 3]),
    ("stk", {"Body": {"stkCallback": {"CheckoutRequestID": "ws_x"}}}),
    ("stk", {"Body": "nope"}),
    ("c2b/confirmation", {"TransAmount": "abc"}),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES)
async def test_malformed_bodies_are_recorded_200_and_flagged(client, path, body):
    http, current = client
    response = await http.post(f"/mpesa/{TOKEN}/{path}", json=body)
    assert response.status_code == 200 and response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    async with current.session_factory() as session:
        row = (await session.execute(select(MpesaCallback))).scalar_one()
    assert row.flagged and row.outcome == "malformed" and row.processed


async def test_numbers_as_strings_are_fine_and_unknown_payouts_flagged(client):
    http, current = client
    body = {"Result": {"ResultCode": "0", "OriginatorConversationID": "nope", "ConversationID": "AG_1"}}
    assert (await http.post(f"/mpesa/{TOKEN}/b2c/result", json=body)).status_code == 200
    async with current.session_factory() as session:
        row = (await session.execute(select(MpesaCallback))).scalar_one()
    assert row.outcome == "unknown_payout" and row.flagged


async def test_wrong_token_is_403_and_nothing_stored(client):
    http, current = client
    assert (await http.post("/mpesa/wrong/stk", json={})).status_code == 403
    async with current.session_factory() as session:
        assert (await session.execute(select(MpesaCallback))).first() is None


async def test_c2b_validation_and_confirmation(client):
    http, current = client
    async with current.session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=42, asset=Asset.KES
        )
        await session.commit()
    payment = {"TransID": "RKTQDM7W6S", "TransAmount": "10", "BillRefNumber": "42", "MSISDN": "25470****149"}
    ok = await http.post(f"/mpesa/{TOKEN}/c2b/validation", json=payment)
    assert ok.json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    bad = await http.post(f"/mpesa/{TOKEN}/c2b/validation", json={**payment, "TransAmount": "-1"})
    assert bad.json()["ResultCode"] == "C2B00013"
    for _ in range(2):  # a duplicate confirmation is recorded once
        assert (await http.post(f"/cb/{TOKEN}/c2b/confirmation", json=payment)).status_code == 200
    stray = {**payment, "TransID": "RKTQDM7W6T", "BillRefNumber": "who?"}
    assert (await http.post(f"/cb/{TOKEN}/c2b/confirmation", json=stray)).status_code == 200
    async with current.session_factory() as session:
        # confirmations are claims: pending until our Transaction Status query confirms them
        assert await ledger.balance(session=session, account_id=wallet.id) == Money.zero(Asset.KES)
        suspense = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
        assert await ledger.balance(session=session, account_id=suspense.id) == Money.zero(Asset.KES)
        outcomes = (await session.execute(select(MpesaCallback.kind, MpesaCallback.outcome))).all()
        waiting = await confirmed.pending_all(session=session)
    confirmations = [o for k, o in outcomes if k == "c2b_confirmation"]
    assert confirmations == ["pending", "duplicate", "pending"]
    assert sorted(p.reference for p in waiting) == ["RKTQDM7W6S", "RKTQDM7W6T"]


def _failing_job() -> None:
    raise RuntimeError("boom")


async def test_staff_sees_failed_jobs(client, redis_url):
    http, current = client
    assert (await http.get("/api/staff/payouts/failed-jobs")).status_code == 401
    redis = Redis.from_url(redis_url)
    job = Queue("payouts", connection=redis).enqueue("tests.integration.payouts.test_router._failing_job")
    SimpleWorker(["payouts"], connection=redis).work(burst=True)
    async with current.session_factory() as session:  # a real login: the route checks the session too
        staff = StaffUser(
            email="finance@kibeti.test",
            role="finance",
            password_hash="x",
            totp_secret="x",
            last_totp_step=0,
            active=True,
            failed_logins=0,
            created_at=current.clock.now(),
        )
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=current.clock, secret_key=SECRET)
        await session.commit()
    token = pair.access_token
    response = await http.get("/api/staff/payouts/failed-jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    (entry,) = response.json()["queues"]["payouts"]
    assert entry["id"] == job.id and "boom" in entry["error"]
    async with current.session_factory() as session:  # a disabled account's token stops working at once
        disabled = await session.get(StaffUser, staff.id)
        assert disabled is not None
        disabled.active = False
        await session.commit()
    for path in ("/api/staff/payouts/failed-jobs", "/api/staff/payouts/flagged-callbacks"):
        assert (await http.get(path, headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_the_cb_alias_accepts_callbacks_too(client):
    http, _ = client
    response = await http.post(f"/cb/{TOKEN}/b2c/timeout", json={"Result": {"ResultCode": "SVC0403"}})
    assert response.status_code == 200
    assert (await http.post("/cb/wrong/b2c/timeout", json={})).status_code == 403
