"""USSD end to end: the real app, PostgreSQL, Redis, and the AT SMS fake, driven over HTTP with
the form fields exactly as Africa's Talking posts them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Collection, Iterator
from typing import Any

import httpx
import pytest

from core import runtime as runtime_module
from core.config import Settings
from core.outbox import service as outbox
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from webapp.app import create_app
from webapp.bootstrap import build_runtime

TOKEN = "e2e-at-callback-token-0123456789"
_ids = itertools.count(1)


class AtPhone:
    """A handset behind Africa's Talking: `text` accumulates every input joined by '*'."""

    def __init__(self, client: httpx.AsyncClient, number: str, code: str = "*483*1#") -> None:
        self.client, self.number, self.code = client, number, code
        self.inputs: list[str] = []
        self.session_id = ""

    async def dial(self) -> str:
        self.inputs = []
        self.session_id = f"ATUid_e2e_{next(_ids)}"
        return await self.hop()

    async def send(self, value: str) -> str:
        self.inputs.append(value)
        return await self.hop()

    async def menu(self, *choices: str) -> str:
        """Dial, then press `choices` in turn; the last screen."""
        screen = await self.dial()
        for choice in choices:
            screen = await self.send(choice)
        return screen

    async def hop(self, text: str | None = None) -> str:
        form = {
            "sessionId": self.session_id,
            "serviceCode": self.code,
            "phoneNumber": self.number,
            "networkCode": "63902",
            "text": "*".join(self.inputs) if text is None else text,
        }
        response = await self.client.post(f"/ussd/{TOKEN}", data=form)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        body = response.text
        assert body.startswith(("CON ", "END ")) and len(body) - 4 <= 160, body
        return body


PIN = "4826"


async def register(
    phone: AtPhone, language: str, name: str = "Amina Wanjiru", national_id: str | None = None
) -> str:
    """Dial, choose the language, give name and ID, date of birth, accept the terms, choose and confirm
    the PIN; the national ID is the number's last 8 digits unless given (one ID, one number)."""
    await phone.dial()
    await phone.send(language)
    await phone.send(name)
    await phone.send(national_id or phone.number[-8:])
    await phone.send("15031990")  # date of birth
    await phone.send("1")
    await phone.send(PIN)
    return await phone.send(PIN)


async def registered(
    client: httpx.AsyncClient,
    number: str,
    language: str,
    name: str = "Amina Wanjiru",
    *,
    national_id: str | None = None,
) -> AtPhone:
    """A handset whose customer has just registered over USSD."""
    phone = AtPhone(client, number)
    await register(phone, language, name, national_id)
    return phone


async def funded(
    client: httpx.AsyncClient,
    rt: Runtime,
    number: str,
    language: str,
    amount: str,
    asset_value: str,
    name: str = "Amina Wanjiru",
    *,
    national_id: str | None = None,
) -> AtPhone:
    """A handset whose customer registered over USSD and then had `amount` of the asset deposited."""
    phone = await registered(client, number, language, name, national_id=national_id)
    await fund(rt, phone.number, amount, asset_value)
    return phone


async def customer_id_of(rt: Runtime, phone: str) -> int:
    from core.identity import service as identity

    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone)
        assert customer is not None
        return int(customer.id)


async def count_rows(rt: Runtime, model: type) -> int:
    from sqlalchemy import func, select

    async with rt.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
def at_fake() -> Iterator[FakeAfricasTalking]:
    server = FakeAfricasTalking().start()
    yield server
    server.stop()


@pytest.fixture
async def ussd_runtime(
    clean_pg_url: str, redis_url: str, at_fake: FakeAfricasTalking
) -> AsyncIterator[Runtime]:
    settings = Settings(
        kibeti_env="test", database_url=clean_pg_url, redis_url=redis_url, at_base_url=at_fake.url,
        at_callback_token=TOKEN,
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.install(rt)
    yield rt
    if rt.redis is not None:
        await rt.redis.aclose()
    rt.queue.connection.close()  # type: ignore[attr-defined]
    await rt.session_factory.kw["bind"].dispose()


@pytest.fixture
async def client(ussd_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ussd_runtime, run_scheduler_inside=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@contextlib.contextmanager
def app_on_own_loop(
    pg_url: str, redis_url: str
) -> Iterator[tuple[asyncio.AbstractEventLoop, Runtime, httpx.AsyncClient]]:
    """The whole app on an event loop of its own, for Hypothesis tests (whose @given runs synchronously):
    the loop, the Runtime and an HTTP client on the app; all closed afterwards."""
    loop = asyncio.new_event_loop()
    rt = build_runtime(
        Settings(kibeti_env="test", database_url=pg_url, redis_url=redis_url, at_callback_token=TOKEN)
    )
    runtime_module.install(rt)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt)), base_url="http://t")
    try:
        yield loop, rt, client
    finally:
        loop.run_until_complete(client.aclose())
        if rt.redis is not None:
            loop.run_until_complete(rt.redis.aclose())
        rt.queue.connection.close()  # type: ignore[attr-defined]
        loop.run_until_complete(rt.session_factory.kw["bind"].dispose())
        loop.close()


async def fuzz_walk(
    client: httpx.AsyncClient, phone: str, inputs: list[str], *, crash_replies: Collection[str]
) -> None:
    """One fuzzed session: dial, then type `inputs` one hop at a time until an END. Every reply is a
    200, CON/END within 182 characters, and none of `crash_replies` (the engine's last resort)."""
    session_id, typed = f"fuzz-{next(_ids)}", []

    async def post(text: str) -> str:
        form = {"sessionId": session_id, "serviceCode": "*483*1#", "phoneNumber": phone, "networkCode": "63902",
                "text": text}  # fmt: skip
        response = await client.post(f"/ussd/{TOKEN}", data=form)
        assert response.status_code == 200, response.text
        assert response.text.startswith(("CON ", "END ")) and len(response.text) - 4 <= 182, response.text
        assert response.text not in crash_replies, text  # a state raised
        return response.text

    await post("")
    for value in inputs:
        typed.append(value)
        if (await post("*".join(typed))).startswith("END "):
            return


async def deliver_sms(rt: Runtime) -> None:
    """Run the outbox's SMS jobs now (what the relay + an RQ worker do in production)."""
    from sqlalchemy import select

    from channels.sms import jobs
    from core.outbox.models import OutboxJob, OutboxStatus

    async with rt.session_factory() as session:
        rows = (
            (await session.execute(select(OutboxJob).where(OutboxJob.status == OutboxStatus.PENDING.value)))
            .scalars()
            .all()
        )
        pending = [(row.id, row.job, dict(row.kwargs)) for row in rows]
    for row_id, job, kwargs in pending:
        if job == "channels.sms.jobs.send_sms":
            await jobs.send_sms(**kwargs, outbox_id=row_id)
    _ = outbox


async def refresh_rates(rt: Runtime) -> None:
    from core.fx import service as fx
    from core.fx.sources import DemoRateSource

    async with rt.session_factory() as session:
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=rt.clock)
        await session.commit()


async def fund(rt: Runtime, phone: str, amount: str, asset_value: str) -> None:
    """Give a customer crypto as if a deposit was credited (custody -> wallet)."""
    from core.flows import accounts
    from core.identity import service as identity
    from core.ledger import service as ledger
    from core.ledger.models import AccountKind
    from core.money import Asset, Money

    asset = Asset(asset_value)
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone)
        assert customer is not None
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=asset)
        wallet = await accounts.wallet_account_id(session, customer.id, asset)
        await ledger.transfer(
            session=session, idempotency_key=f"test-fund:{phone}:{asset_value}:{amount}",
            from_account_id=custody.id, to_account_id=wallet, amount=Money.of(amount, asset), kind="deposit",
        )  # fmt: skip
        await session.commit()


async def stk_paid(rt: Runtime, *, checkout_request_id: str, receipt: str) -> dict[str, Any]:
    """M-Pesa confirms the one STK push in full (its callback); returns the arguments of the buy's
    completion job that the callback staged."""
    from decimal import Decimal

    from sqlalchemy import select

    from core.flows import trading
    from core.outbox.models import OutboxJob
    from core.payments import collections
    from core.payments.models import MpesaCollection

    async with rt.session_factory() as session:
        row = (await session.execute(select(MpesaCollection))).scalar_one()
        await collections.mark_requested(
            session=session, collection_id=row.id, checkout_request_id=checkout_request_id,
            merchant_request_id=f"m-{checkout_request_id}",
        )  # fmt: skip
        await collections.apply_stk_callback(
            session=session, checkout_request_id=checkout_request_id, result_code="0", result_desc="ok",
            amount=Decimal(row.amount_minor) / 100, receipt=receipt, phone=row.phone, raw={},
        )  # fmt: skip
        await session.commit()
        job = (
            await session.execute(select(OutboxJob).where(OutboxJob.job == trading.COMPLETE_BUY_JOB))
        ).scalar_one()
        return dict(job.kwargs)


async def balance_of(rt: Runtime, phone: str, asset_value: str) -> str:
    from core.flows import accounts
    from core.identity import service as identity
    from core.money import Asset

    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone)
        assert customer is not None
        return str((await accounts.available(session, customer.id, Asset(asset_value))).amount)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """GC can finalise another fixture's loop/socket during these tests; that is not ours to fail on."""
    for item in items:
        if "e2e/ussd" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
