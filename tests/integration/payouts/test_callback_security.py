"""Issue 11 item 0, over HTTP through the app's own middleware: a forged STK success with the valid
path token credits nothing (our STK Query decides), callbacks are never rate-limited into dropping
a payment, and the path token is in no stored row."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from core import runtime as runtime_module
from core.config import Settings
from core.ledger import service as ledger
from core.money import Asset, Money
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments import collections, confirmed
from core.payments.models import CollectionStatus, MpesaCallback, MpesaCollection
from payouts import adapter, jobs
from payouts.mpesa.credentials import generate_test_certificate
from simulators.daraja.simulator import Simulator, create_app
from simulators.daraja.state import SimConfig
from webapp.api.mpesa import router
from webapp.bootstrap import build_runtime
from webapp.middleware import SecurityMiddleware, install_error_handlers

TOKEN = "sec-test-token-0123456789abcdef"
CERT = generate_test_certificate()
KES = Asset.KES


@pytest.fixture
async def app_and_runtime(clean_pg_url, monkeypatch):
    settings = Settings(
        kibeti_env="test",
        database_url=clean_pg_url,
        redis_url="",
        mpesa_callback_token=TOKEN,
        mpesa_base_url="http://sim",
        mpesa_callback_base_url="http://app",
    )  # type: ignore[call-arg]
    rt = build_runtime(settings)
    runtime_module.install(rt)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(SecurityMiddleware)
    app.state.runtime = rt
    sim = Simulator(
        SimConfig(callback_delay_s=0.0),
        certificate=CERT,
        callback_transport=httpx.ASGITransport(app=app, client=("196.201.214.200", 443)),
    )
    monkeypatch.setattr(adapter, "TRANSPORT", httpx.ASGITransport(app=create_app(sim)))
    app.state.sim = sim
    yield app, rt
    await sim.aclose()
    await rt.session_factory.kw["bind"].dispose()


async def _run_staged(rt, job: str) -> int:
    """Run what the outbox relay would: the staged jobs of one kind."""
    async with rt.session_factory() as session:
        query = select(OutboxJob).where(OutboxJob.job == job, OutboxJob.status != OutboxStatus.DONE.value)
        staged = (await session.execute(query)).scalars().all()
    for row in staged:
        await getattr(jobs, job.rpartition(".")[2])(outbox_id=row.id, **row.kwargs)
    return len(staged)


async def _collection(rt, phone: str, amount: int) -> tuple[int, int]:
    async with rt.session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=21, asset=KES
        )
        row = await collections.create_collection(
            session=session,
            idempotency_key=f"buy-{phone}",
            customer_id=21,
            account_id=wallet.id,
            phone=phone,
            amount=Money.of(amount, KES),
        )
        await session.commit()
        return row.id, wallet.id


def _stk_success(checkout_request_id: str, amount: int, phone: str) -> dict[str, object]:
    items = [
        {"Name": "Amount", "Value": amount},
        {"Name": "MpesaReceiptNumber", "Value": "FORGED0001"},
        {"Name": "Balance"},
        {"Name": "TransactionDate", "Value": 20261205101010},
        {"Name": "PhoneNumber", "Value": int(phone)},
    ]
    callback = {
        "MerchantRequestID": "29115-1",
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": items},
    }
    return {"Body": {"stkCallback": callback}}


async def test_a_forged_stk_success_for_a_cancelled_purchase_credits_nothing(app_and_runtime):
    app, rt = app_and_runtime
    sim: Simulator = app.state.sim
    sim.state.stk_steering.default.outcome = "1032"  # the customer cancels on the handset...
    sim.state.stk_steering.default.callback = "none"  # ...and the attacker is first with a callback
    collection_id, wallet_id = await _collection(rt, "0712345621", 5000)
    assert await _run_staged(rt, "payouts.jobs.request_stk_push") == 1
    await sim.drain()
    async with rt.session_factory() as session:
        row = await session.get(MpesaCollection, collection_id)
    assert row is not None and row.status == CollectionStatus.REQUESTED.value
    transport = httpx.ASGITransport(app=app, client=("196.201.214.200", 443))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        forged = _stk_success(row.checkout_request_id or "", 5000, "254712345621")
        assert (await http.post(f"/cb/{TOKEN}/stk", json=forged)).status_code == 200
    async with rt.session_factory() as session:  # pending, visible, not spendable
        row = await session.get(MpesaCollection, collection_id, populate_existing=True)
        waiting = await confirmed.pending_for_customer(session=session, customer_id=21)
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.zero(KES)
    assert row is not None and row.status == CollectionStatus.CONFIRMING.value
    assert [(p.kind, p.amount) for p in waiting] == [("stk", Money.of(5000, KES))]
    assert await _run_staged(rt, "payouts.jobs.confirm_stk") == 1  # our STK Query: 1032, cancelled
    async with rt.session_factory() as session:
        row = await session.get(MpesaCollection, collection_id, populate_existing=True)
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.zero(KES)
    assert row is not None and (row.status, row.result_code) == (CollectionStatus.FAILED.value, "1032")


async def test_a_real_stk_payment_is_credited_once_our_query_confirms_it(app_and_runtime):
    app, rt = app_and_runtime
    sim: Simulator = app.state.sim
    collection_id, wallet_id = await _collection(rt, "0712345622", 300)
    assert await _run_staged(rt, "payouts.jobs.request_stk_push") == 1
    await sim.drain()  # the simulator's success callback arrives: a claim, not yet money
    async with rt.session_factory() as session:
        row = await session.get(MpesaCollection, collection_id)
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.zero(KES)
    assert row is not None and row.status == CollectionStatus.CONFIRMING.value
    assert await _run_staged(rt, "payouts.jobs.confirm_stk") == 1
    async with rt.session_factory() as session:
        row = await session.get(MpesaCollection, collection_id, populate_existing=True)
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.of(300, KES)
    assert row is not None and row.status == CollectionStatus.SUCCEEDED.value and row.receipt


async def test_a_burst_of_callbacks_is_never_rate_limited(app_and_runtime):
    app, rt = app_and_runtime
    transport = httpx.ASGITransport(app=app, client=("196.201.214.200", 443))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        statuses = [
            (await http.post(f"/cb/{TOKEN}/c2b/confirmation", content="{}")).status_code for _ in range(130)
        ]
        staff = [(await http.get("/api/staff/payouts/failed-jobs")).status_code for _ in range(130)]
    assert statuses == [200] * 130
    assert 429 in staff  # the limiter itself is on: only the callbacks are exempt
    async with rt.session_factory() as session:
        stored = (await session.execute(select(func.count()).select_from(MpesaCallback))).scalar_one()
        rows = (await session.execute(select(MpesaCallback))).scalars().all()
    assert stored == 130
    assert not any(TOKEN in f"{r.raw}{r.body}{r.reference}{r.remote_addr}{r.flag_reason}" for r in rows)


async def test_a_configured_callback_prefix_is_served(sqlite_url):
    """MPESA_CALLBACK_PATH_PREFIX other than "cb": the app serves the callbacks there too."""
    settings = Settings(
        kibeti_env="test",
        database_url=sqlite_url,
        redis_url="",
        mpesa_callback_token=TOKEN,
        mpesa_base_url="http://daraja.example",  # no simulator mounted
        mpesa_callback_path_prefix="hooks",
    )  # type: ignore[call-arg]
    rt = build_runtime(settings)
    app = FastAPI()
    app.state.runtime = rt  # what webapp.app's lifespan sets before the routers' start up
    app.include_router(router)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            assert (await http.post(f"/hooks/{TOKEN}/c2b/confirmation", content="{}")).status_code == 200
            assert (await http.post("/hooks/wrong-token/c2b/confirmation", content="{}")).status_code == 403
            assert (await http.post(f"/cb/{TOKEN}/c2b/confirmation", content="{}")).status_code == 200
    await rt.session_factory.kw["bind"].dispose()


async def test_the_apps_own_calls_to_its_daraja_simulator_are_never_rate_limited(app_and_runtime):
    """On the embedded default every STK push and status query is an HTTP call from the app to the
    simulator it mounts, all from 127.0.0.1: under `make load` the per-IP limit answered them 429."""
    app, _rt = app_and_runtime
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        simulator = [(await http.get("/daraja-sim/no-such-page")).status_code for _ in range(130)]
        phone = [(await http.post("/simulator/phone/paybill", json={})).status_code for _ in range(130)]
        staff = [(await http.get("/api/staff/payouts/failed-jobs")).status_code for _ in range(130)]
    assert 429 not in simulator and 429 not in phone
    assert 429 in staff  # the limiter itself is on
