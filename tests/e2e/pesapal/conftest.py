"""PesaPal end to end: the real app with its PesaPal simulator in-process (API, hosted page, IPNs
delivered into the app), PostgreSQL, Redis and the AT SMS fake; outbox jobs run by `drain`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from core import runtime as runtime_module
from core.config import Settings
from core.outbox.jobs import run as run_outbox_row
from core.outbox.models import OutboxJob, OutboxStatus
from core.rails.models import RailOrder
from core.runtime import Runtime
from payouts.pesapal import adapter
from simulators.africastalking import FakeAfricasTalking
from simulators.pesapal import PesapalSimulator
from tests.e2e.ussd.conftest import TOKEN, at_fake  # noqa: F401 - the AT fake fixture
from webapp.app import create_app
from webapp.bootstrap import build_runtime

BASE = "http://testserver"


@pytest.fixture
async def rt(
    clean_pg_url: str,
    redis_url: str,
    at_fake: FakeAfricasTalking,  # noqa: F811
) -> AsyncIterator[Runtime]:
    settings = Settings(
        kibeti_env="test", database_url=clean_pg_url, redis_url=redis_url, at_base_url=at_fake.url,
        at_callback_token=TOKEN, pesapal_public_base_url=BASE,
    )  # fmt: skip
    runtime = build_runtime(settings)
    runtime_module.install(runtime)
    yield runtime
    if runtime.redis is not None:
        await runtime.redis.aclose()
    runtime.queue.connection.close()  # type: ignore[attr-defined]
    await runtime.session_factory.kw["bind"].dispose()


@pytest.fixture
async def client(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI; PesaPal calls (the adapter's) and IPNs (the simulator's) go into it too."""
    app = create_app(rt, run_scheduler_inside=False)
    transport = httpx.ASGITransport(app=app)
    monkeypatch.setattr(adapter, "TRANSPORT", transport)
    monkeypatch.setattr(adapter, "_ipn_ids", {})
    sim(rt).ipn_transport = transport
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def sim(rt: Runtime) -> PesapalSimulator:
    assert isinstance(rt.pesapal_simulator, PesapalSimulator)
    return rt.pesapal_simulator


async def drain(rt: Runtime, *, rounds: int = 20) -> None:
    """Deliver the simulator's IPNs and run every pending outbox job until nothing is left (what the
    relay and the RQ workers do in production)."""
    for _ in range(rounds):
        await sim(rt).drain()
        async with rt.session_factory() as session:
            query = select(OutboxJob.id, OutboxJob.job, OutboxJob.kwargs).where(
                OutboxJob.status == OutboxStatus.PENDING.value
            )
            pending = list((await session.execute(query.order_by(OutboxJob.id))).all())
        if not pending:
            return
        for outbox_id, job, kwargs in pending:
            await run_outbox_row(outbox_id, job, dict(kwargs))


async def only_order(rt: Runtime) -> RailOrder:
    async with rt.session_factory() as session:
        return (await session.execute(select(RailOrder))).scalar_one()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e/pesapal" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
