"""A Transaction Status answer that is neither Completed nor Failed (Pending, no status, a word Daraja's
documentation does not give) is an unknown outcome: the payout stays unknown with its funds held,
never failed and released (it may yet be paid). SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core.ledger.models import Hold
from core.outbox.models import OutboxJob
from core.payments import service
from core.payments.outcomes import RailOutcome, RailResult
from payouts import callbacks
from payouts.mpesa import results
from tests.integration.payouts.test_payments_service import _create, _wallet


def _status_body(query_id: str, ocid: str, status: str, code: str) -> dict[str, Any]:
    parameters = {"OriginatorConversationID": ocid, "ReasonType": "Salary Payment", "Amount": 100,
                  "TransactionResultCode": code, "ReceiptNo": "", "ConversationID": ""}  # fmt: skip
    if status:
        parameters["TransactionStatus"] = status
    return {
        "Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": query_id, "ConversationID": "AG_q", "TransactionID": "",
            "ResultParameters": {"ResultParameter": [{"Key": k, "Value": v} for k, v in parameters.items()]},
        }
    }  # fmt: skip


async def _unknown_payout(factory) -> tuple[str, int]:
    """A payout whose worker died during the Daraja call (claimed twice: the second run says unknown)."""
    wallet = await _wallet(factory, 1)
    payout = await _create(factory, wallet, amount="100")
    async with factory() as session:
        await service.claim_for_send(session=session, payout_id=payout.id)
        claim = await service.claim_for_send(session=session, payout_id=payout.id)
        await service.record_status_query(session=session, payout_id=payout.id, query_id="q-7")
        await session.commit()
    assert claim.payout.status == "unknown"
    return payout.id, payout.hold_id


@pytest.mark.parametrize(("status", "code"), [("Pending", ""), ("", ""), ("Authorised", "15")])
async def test_status_neither_completed_nor_failed_keeps_the_payout_unknown_and_held(
    session_factory, status: str, code: str
) -> None:
    payout_id, hold_id = await _unknown_payout(session_factory)
    body = _status_body("q-7", payout_id, status, code)
    outcome = await callbacks.receive(session_factory, kind="status_result", body=body, raw="{}")
    async with session_factory() as session:
        row = await service.get_payout(session=session, payout_id=payout_id)
        hold = (await session.execute(select(Hold).where(Hold.id == hold_id))).scalar_one()
        jobs = (await session.execute(select(OutboxJob.job))).scalars().all()
    assert outcome == "unknown"
    assert (row.status, hold.status) == ("unknown", "pending")
    assert service.FINISHED_JOB not in jobs  # no "your payout failed" SMS


async def test_status_failed_still_fails_and_completed_still_pays(session_factory) -> None:
    payout_id, hold_id = await _unknown_payout(session_factory)
    body = _status_body("q-7", payout_id, "Failed", "2001")
    assert await callbacks.receive(session_factory, kind="status_result", body=body, raw="{}") == "failed"
    async with session_factory() as session:
        hold = (await session.execute(select(Hold).where(Hold.id == hold_id))).scalar_one()
    assert hold.status == "voided"


async def test_an_unknown_rail_result_is_never_a_failure(session_factory) -> None:
    """core.payments' own rule, whatever the rail's translation: RailOutcome.UNKNOWN releases nothing."""
    payout_id, hold_id = await _unknown_payout(session_factory)
    async with session_factory() as session:
        outcome = await service.apply_status_answer(
            session=session, originator_conversation_id=payout_id, status_query_id="q-7",
            result=RailResult(RailOutcome.UNKNOWN, "15", "duplicate detected"), receipt="", amount=None,
        )  # fmt: skip
        await session.commit()
        row = await service.get_payout(session=session, payout_id=payout_id)
        hold = (await session.execute(select(Hold).where(Hold.id == hold_id))).scalar_one()
    assert (outcome, row.status, hold.status) == ("unknown", "unknown", "pending")


def test_status_results_translated() -> None:
    def outcome(status: str, code: str = "") -> RailOutcome | None:
        answer = results.status_result(
            found=True, transaction_status=status, transaction_result_code=code, desc=""
        )
        return None if answer is None else answer.outcome

    assert outcome("Completed") == RailOutcome.SUCCEEDED
    assert outcome("Failed", "2001") == outcome("failed") == RailOutcome.FAILED
    assert outcome("Failed", "17") == RailOutcome.RETRY
    assert outcome("Pending") == outcome("") == outcome("Pending", "17") == RailOutcome.UNKNOWN
