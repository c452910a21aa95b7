"""USSD end to end: the real app, PostgreSQL, Redis, and the AT SMS fake, driven over HTTP with
the form fields exactly as Africa's Talking posts them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

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
