"""The database connection lost at the worst moments of a send: the answer to a committed statement
lost (a proxy cuts it), a transaction's backend terminated before its commit. Every audit row of a
Daraja call is written once, none is lost, and an unknown outcome is never a failure."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from redis import Redis
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select, text

from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.payments import service
from core.payments.models import Payout
from core.payments.service import SEND_JOB
from payouts.adapter import audit_sink, deferred_audit, sessions, write_api_calls
from payouts.models import MpesaApiCall
from payouts.mpesa.client import ApiCall
from tests.conftest import PG_ADMIN_DSN
from tests.integration.payouts.harness import funded_wallet, wait_final
from tests.integration.payouts.pgproxy import LosingProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FREE_PORT = 0  # the proxy binds a port the system picks and reads it back (proxy.port): no clash


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


def _call(api: str = "b2c", reference: str = "ref") -> ApiCall:
    return ApiCall(
        api, "/mpesa/b2c/v3/paymentrequest", {"Amount": 100}, 200, {"ResponseCode": "0"}, "", 12, reference
    )


async def _audit_counts(factory, reference: str) -> dict[str, int]:
    async with factory() as session:
        query = (
            select(MpesaApiCall.api, func.count())
            .where(MpesaApiCall.reference.in_([reference, ""]))
            .group_by(MpesaApiCall.api)
        )
        return {str(api): int(count) for api, count in (await session.execute(query)).all()}


async def _send_through(stack, relay, proxy: LosingProxy, customer: int) -> tuple[Payout, str]:
    """A worker whose database connections go through `proxy` sends one payout to its end."""
    stack.start_worker(simple=True, DATABASE_URL=_through(stack.pg_url, proxy.port))
    factory = relay.runtime.session_factory
    wallet = await funded_wallet(factory, customer, 5000)
    async with factory() as session:
        payout = await service.create_payout(
            session=session, idempotency_key=f"lost-{customer}", account_id=wallet,
            phone=f"0712000{customer}", amount=Money.of(150, Asset.KES), customer_id=customer,
        )  # fmt: skip
        await session.commit()
    assert await asyncio.to_thread(proxy.wait_cut, 60), "the acceptance's statement never ran"
    [row] = await wait_final(factory, [payout.id], timeout=60)
    return row, payout.originator_conversation_id


async def _recorded_once(stack, relay, row: Payout, ocid: str) -> None:
    """Paid, the acceptance's audit rows there once, the send's outbox row done, no failed job."""
    factory = relay.runtime.session_factory
    assert row.status == "succeeded" and row.conversation_id
    counts = await _audit_counts(factory, ocid)
    assert counts.get("b2c") == 1, counts
    assert counts.get("oauth", 0) <= 1, counts
    async with factory() as session:
        sends = (await session.execute(select(OutboxJob.status).where(OutboxJob.job == SEND_JOB))).scalars()
        assert list(sends) == ["done"]
    assert FailedJobRegistry("payouts", connection=Redis.from_url(stack.redis_url)).count == 0


async def test_acceptance_answer_lost_after_commit_writes_each_audit_row_once(stack, relay):
    """The worker's one-statement record of Daraja's acceptance commits, and its answer never comes
    back: recorded again through a session, the acceptance, the outbox row's done and the audit rows
    are each there once, and the job does not fail."""
    upstream = urlsplit(stack.pg_url)
    with LosingProxy(
        FREE_PORT, (upstream.hostname or "", upstream.port or 5432), trigger=b"audited AS"
    ) as proxy:
        row, ocid = await _send_through(stack, relay, proxy, 910)
    assert proxy.cuts == 1
    # the cut answer held the statement's row and ended with no transaction open: it had committed
    assert "D" in proxy.kinds and proxy.ready_status == "I", (proxy.kinds, proxy.ready_status)
    await _recorded_once(stack, relay, row, ocid)


async def test_acceptance_statement_lost_before_it_ran_is_recorded_through_a_session(stack, relay):
    """The connection drops as the acceptance's statement is sent: nothing committed, the job cannot
    tell. Recorded through a session, never a failed job nor a payout left `submitted`."""
    upstream = urlsplit(stack.pg_url)
    with LosingProxy(
        FREE_PORT,
        (upstream.hostname or "", upstream.port or 5432),
        trigger=b"audited AS",
        before_commit=True,
    ) as proxy:
        row, ocid = await _send_through(stack, relay, proxy, 911)
    assert proxy.cuts == 1 and proxy.kinds == []  # the server never answered the statement
    await _recorded_once(stack, relay, row, ocid)


async def test_audit_rows_of_a_transaction_lost_before_its_commit_are_written_again(relay):
    """A transaction that wrote the deferred audit rows loses its backend before COMMIT: leaving the
    scope by that error, the rows are written again, once."""
    runtime = relay.runtime
    record = audit_sink(runtime)
    # asyncpg's error, as SQLAlchemy wraps it (its words depend on when asyncpg reads the termination)
    with pytest.raises(Exception):  # noqa: B017
        async with deferred_audit(runtime) as calls:
            await record(_call(reference="lost-commit"))
            async with sessions(runtime)() as session:
                await write_api_calls(session, calls)
                pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                admin = await asyncpg.connect(PG_ADMIN_DSN)
                try:
                    await admin.execute("SELECT pg_terminate_backend($1)", pid)
                finally:
                    await admin.close()
                await session.commit()
    assert await _audit_counts(runtime.session_factory, "lost-commit") == {"b2c": 1}


async def test_audit_row_written_twice_is_one_row(session_factory):
    """The same call written again (a retry after a lost answer) adds nothing: SQLite and PostgreSQL."""
    call = _call(reference="twice")
    for _ in range(2):
        async with session_factory() as session:
            await write_api_calls(session, [call])
            await session.commit()
    async with session_factory() as session:
        rows = (
            await session.execute(select(MpesaApiCall.call_id).where(MpesaApiCall.reference == "twice"))
        ).all()
    assert [tuple(r) for r in rows] == [(call.call_id,)]
