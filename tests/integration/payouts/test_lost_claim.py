"""The answer to a payout's claim lost with the worker's database connection (a proxy cuts it): the
claim committed, or not, and the worker cannot tell. It asks the database: its own claim (`submitted`
at its claim's time) is sent at once, under its OriginatorConversationID, once at the simulator; a
claim that did not commit is claimed again. Neither waits for the unknown -> Transaction Status ->
resend way (no reconciler runs here: a payout left `unknown` would stay so)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from core import runtime as runtime_module
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.payments import service
from core.payments.models import Payout
from core.payments.service import SEND_JOB
from payouts import jobs
from payouts.models import MpesaApiCall
from tests.integration.payouts.harness import Relay, Stack, funded_wallet, wait_final
from tests.integration.payouts.pgproxy import LosingProxy
from webapp.bootstrap import build_runtime

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FREE_PORT = 0
CLAIM = b"FROM kibeti_claim_payout("  # the claim's statement (core.payments.service)


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


async def _claim_answer_lost(stack: Stack, relay: Relay, proxy: LosingProxy, customer: int) -> Payout:
    """A worker whose database connections go through `proxy` sends one payout to its end."""
    stack.start_worker(simple=True, DATABASE_URL=_through(stack.pg_url, proxy.port))
    factory = relay.runtime.session_factory
    wallet = await funded_wallet(factory, customer, 5000)
    async with factory() as session:
        payout = await service.create_payout(
            session=session, idempotency_key=f"lost-claim-{customer}", account_id=wallet,
            phone=f"0712000{customer}", amount=Money.of(150, Asset.KES), customer_id=customer,
        )  # fmt: skip
        await session.commit()
    assert await asyncio.to_thread(proxy.wait_cut, 60), "the claim never ran"
    [row] = await wait_final(factory, [payout.id], timeout=60)
    return row


async def _sent_once(stack: Stack, relay: Relay, row: Payout) -> None:
    """Paid, one B2C request at the simulator and in the audit rows, no Transaction Status asked,
    the send's outbox row done, no failed job."""
    assert row.status == "succeeded" and row.conversation_id, (row.status, row.result_desc)
    assert row.attempts == 1 and row.status_query_id is None
    ocid = row.originator_conversation_id
    at_simulator: Any = await asyncio.to_thread(stack.sim, "GET", f"/simulator/b2c/{ocid}")
    assert at_simulator["requests"] == 1 and at_simulator["payments"] == 1, at_simulator
    async with relay.runtime.session_factory() as session:
        apis = (await session.execute(select(MpesaApiCall.api).where(MpesaApiCall.api != "oauth"))).scalars()
        assert sorted(apis) == ["b2c"]
        sends = (await session.execute(select(OutboxJob.status).where(OutboxJob.job == SEND_JOB))).scalars()
        assert list(sends) == ["done"]
    assert FailedJobRegistry("payouts", connection=Redis.from_url(stack.redis_url)).count == 0


async def test_claim_committed_and_its_answer_lost_is_sent_at_once(stack: Stack, relay: Relay) -> None:
    """The claim's one autocommitted statement (daily value lock and claim) commits and its answer
    never comes back: the worker finds the payout `submitted` at its own claim's time and sends it."""
    upstream = urlsplit(stack.pg_url)
    with LosingProxy(
        FREE_PORT, (upstream.hostname or "", upstream.port or 5432), trigger=CLAIM, until_idle=True
    ) as proxy:
        row = await _claim_answer_lost(stack, relay, proxy, 920)
    assert proxy.cuts == 1
    # the claim returned its row, and the answer cut ended with no transaction open: it committed
    assert "D" in proxy.kinds and proxy.ready_status == "I", (proxy.kinds, proxy.ready_status)
    await _sent_once(stack, relay, row)


async def test_claim_lost_before_its_commit_is_claimed_again(stack: Stack, relay: Relay) -> None:
    """The connection drops as the claim's statement is sent, before the server ran it: nothing
    committed, the payout is still `created`, and the worker claims it again and sends it once."""
    upstream = urlsplit(stack.pg_url)
    with LosingProxy(
        FREE_PORT, (upstream.hostname or "", upstream.port or 5432), trigger=CLAIM, before_commit=True
    ) as proxy:
        row = await _claim_answer_lost(stack, relay, proxy, 921)
    assert proxy.cuts == 1 and proxy.kinds == [], (proxy.kinds, proxy.ready_status)
    await _sent_once(stack, relay, row)


async def test_session_claims_commit_answer_lost_is_sent_at_once(stack: Stack, relay: Relay) -> None:
    """Outside a worker's process loop there is no direct connection: the claim runs in a session,
    and the answer to its COMMIT is lost. The job finds its own claim and sends it, in this run."""
    factory = relay.runtime.session_factory
    wallet = await funded_wallet(factory, 922, 5000)
    async with factory() as session:
        payout = await service.create_payout(
            session=session, idempotency_key="lost-claim-922", account_id=wallet, phone="0712000922",
            amount=Money.of(150, Asset.KES), customer_id=922,
        )  # fmt: skip
        await session.commit()
        send = (await session.execute(select(OutboxJob.id).where(OutboxJob.job == SEND_JOB))).scalar_one()
    upstream = urlsplit(stack.pg_url)
    with LosingProxy(
        FREE_PORT, (upstream.hostname or "", upstream.port or 5432), trigger=CLAIM, until_idle=True
    ) as proxy:
        through = stack.settings().model_copy(update={"database_url": _through(stack.pg_url, proxy.port)})
        runtime = build_runtime(through)
        runtime_module.install(runtime)
        try:
            outcome = await jobs.send_payout(payout.id, outbox_id=send)
        finally:
            runtime_module.install(relay.runtime)
            await runtime.session_factory.kw["bind"].dispose()
    assert outcome == "accepted"
    assert proxy.cuts == 1 and proxy.ready_status == "I", (proxy.kinds, proxy.ready_status)
    [row] = await wait_final(factory, [payout.id], timeout=60)
    await _sent_once(stack, relay, row)
