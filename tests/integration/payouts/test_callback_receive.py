"""A B2C or status answer is stored and applied in one transaction (`payouts.callbacks.receive`); a C2B or
STK callback is stored first, on its own (Daraja does not retry callbacks); when applying
fails, the raw row is still stored, unprocessed, for the reconciler; when it cannot be stored at
all, receive raises (so Daraja is not answered "Accepted")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments import callbacks as callback_log
from core.payments import service as payments
from core.payments.models import MpesaCallback
from core.runtime import Runtime
from payouts import callbacks
from tests.fakes.notifier import FakeNotifier
from webapp.queues import InProcessJobQueue

Factory = async_sessionmaker[AsyncSession]
BODY = {"Result": {"ResultCode": 1, "OriginatorConversationID": "q-1"}}  # a status query timed out


async def _rows(session_factory: Factory) -> list[MpesaCallback]:
    async with session_factory() as session:
        return list((await session.execute(select(MpesaCallback).order_by(MpesaCallback.id))).scalars())


async def test_a_callback_is_stored_processed_with_its_outcome(session_factory: Factory) -> None:
    outcome = await callbacks.receive(session_factory, kind="status_timeout", body=BODY, raw="{...}")
    [row] = await _rows(session_factory)
    assert outcome == "recorded"
    assert (row.processed, row.outcome, row.flagged, row.raw) == (True, outcome, False, "{...}")
    assert row.processed_at is not None


async def test_a_malformed_callback_is_stored_flagged(session_factory: Factory) -> None:
    assert await callbacks.receive(session_factory, kind="b2c_result", body=[1], raw="[1]") == "malformed"
    [row] = await _rows(session_factory)
    assert row.processed and row.flagged and row.outcome == "malformed" and row.raw == "[1]"


async def test_a_failure_while_applying_leaves_the_raw_row_for_the_reconciler(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(session: AsyncSession, body: Any) -> tuple[str, str]:
        await session.execute(select(1))
        raise RuntimeError("the handler fell over")

    monkeypatch.setitem(callbacks.HANDLERS, "status_timeout", broken)
    assert await callbacks.receive(session_factory, kind="status_timeout", body=BODY, raw="{...}") == ""
    [row] = await _rows(session_factory)
    assert (row.processed, row.outcome, row.raw) == (False, None, "{...}")

    monkeypatch.undo()  # fixed: the reconciler's pass applies it
    assert await callbacks.process(session_factory, row.id) == "recorded"
    [row] = await _rows(session_factory)
    assert row.processed


async def test_nothing_stored_means_receive_raises(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_database(**_: Any) -> None:
        raise OSError("the database is unreachable")

    monkeypatch.setattr(callback_log, "record", no_database)
    with pytest.raises(OSError):
        await callbacks.receive(session_factory, kind="status_timeout", body=BODY, raw="{}")


@pytest.fixture
def installed(session_factory: Factory) -> Iterator[FakeNotifier]:
    fake = FakeNotifier()
    current = Runtime(
        settings=Settings(kibeti_env="test"), session_factory=session_factory, clock=FixedClock(),
        queue=InProcessJobQueue(),
    )  # fmt: skip
    current.notifier = fake
    previous = runtime_module._current
    runtime_module.install(current)
    yield fake
    runtime_module._current = previous


def _b2c_success(payout_id: str) -> dict[str, object]:
    parameters = [
        {"Key": "TransactionReceipt", "Value": "SKL7ABC123"},
        {"Key": "TransactionAmount", "Value": 100},
    ]
    return {
        "Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": payout_id, "ConversationID": "AG_1", "TransactionID": "SKL7ABC123",
            "ResultParameters": {"ResultParameter": parameters},
        }
    }  # fmt: skip


async def test_a_payout_result_runs_the_customers_receipt_job_here(
    session_factory: Factory, installed: FakeNotifier
) -> None:
    """The receipt job is staged `dispatched` in the result's transaction and run by the callback's
    own process after the commit: its row is done, the SMS staged, no queue involved."""
    async with session_factory() as session:
        customer = await identity.register_customer(
            session=session, phone="0712345678", name="Wanjiku", national_id="12345678", language="en",
            pin="4826",
        )  # fmt: skip
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer.id, asset=Asset.KES
        )
        float_account = await ledger.system_account(
            session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
        )
        money = Money.of(500, Asset.KES)
        await ledger.post_entry(
            session=session, idempotency_key="seed", kind="deposit",
            postings=[PostingRequest(float_account.id, -money), PostingRequest(wallet.id, money)],
        )  # fmt: skip
        payout = await payments.create_payout(
            session=session, idempotency_key="sell-1", account_id=wallet.id, phone=customer.phone,
            amount=Money.of(100, Asset.KES), customer_id=customer.id,
        )  # fmt: skip
        await session.commit()
    body = _b2c_success(payout.id)
    assert await callbacks.receive(session_factory, kind="b2c_result", body=body, raw="{}") == "succeeded"
    async with session_factory() as session:
        query = select(OutboxJob).where(OutboxJob.job == payments.FINISHED_JOB)
        [finished] = (await session.execute(query)).scalars().all()
        paid = await payments.get_payout(session=session, payout_id=payout.id)
    assert paid.status == "succeeded"
    assert finished.status == OutboxStatus.DONE.value and finished.attempts == 1
    assert [reference for _, _, reference in installed.sent] == [f"payout-finished-{payout.id}"]
    # a duplicate result changes nothing and runs nothing again
    assert await callbacks.receive(session_factory, kind="b2c_result", body=body, raw="{}") == "duplicate"
    assert len(installed.sent) == 1


class _ProcessDied(BaseException):
    """Stands for a kill -9 or an out-of-memory kill mid-apply: nothing after it runs."""


@pytest.mark.parametrize("kind", ["c2b_confirmation", "c2b_validation", "stk"])
async def test_a_callback_no_query_would_find_again_is_stored_before_it_is_applied(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Daraja does not retry callbacks: a paybill payment whose process dies while applying it must
    still be on record (unprocessed, for the reconciler), or nothing of ours would ever find it."""

    async def dies(session: AsyncSession, body: Any) -> tuple[str, str]:
        await session.execute(select(1))
        raise _ProcessDied

    monkeypatch.setitem(callbacks.HANDLERS, kind, dies)
    with pytest.raises(_ProcessDied):
        await callbacks.receive(
            session_factory, kind=kind, body={"TransID": "RKT1"}, raw='{"TransID": "RKT1"}'
        )
    [row] = await _rows(session_factory)
    assert (row.kind, row.processed, row.raw) == (kind, False, '{"TransID": "RKT1"}')


def test_no_callback_a_status_query_cannot_recover_is_applied_in_the_storing_transaction() -> None:
    unrecoverable = set(callbacks.KINDS.values()) - {
        "b2c_result",
        "b2c_timeout",
        "status_result",
        "status_timeout",
    }
    assert not unrecoverable & callbacks.RECOVERED_BY_STATUS_QUERY
