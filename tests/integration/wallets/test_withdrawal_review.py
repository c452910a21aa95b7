"""A crypto withdrawal the compliance gate sends to review is held (amount + fee) and waits; staff
approval sends it once, refusal or expiry voids the hold at once with an SMS, and every step is safe
to run again (a retried request, a rerun job). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import reviews
from compliance.models import Movement
from core.ledger import service as ledger
from core.ledger.types import AccountKind
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.ports import Decision, GateResult, MovementCheck
from wallets.errors import WithdrawalHeldForReview
from wallets.gateway import SEND_JOB
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.withdrawals.lifecycle import request_withdrawal
from wallets.withdrawals.review import review_decided, settle_review

USDT = Asset.USDT_TRC20
CUSTOMER = 7
ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


class ReviewEverything:
    """The gate's review verdict, with the movement row it records (as compliance.gate does)."""

    async def check(self, movement: MovementCheck, *, session: AsyncSession) -> GateResult:
        row = Movement(
            customer_id=movement.customer_id, kind=movement.kind, asset=movement.amount.asset.value,
            amount_minor=movement.amount.minor, amount_kes=movement.amount_kes.minor,
            counterparty=movement.counterparty, reference=movement.reference, decision=Decision.REVIEW.value,
            reason_code="compliance_review", created_at=NOW,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        return GateResult(Decision.REVIEW, "compliance_review", {"reference": row.id})


async def _wallet(session: AsyncSession) -> int:
    account = await ledger.get_or_open_account(
        session=session, owner_type="customer", owner_id=CUSTOMER, asset=USDT, kind=AccountKind.WALLET
    )
    return account.id


async def _fund(sf: async_sessionmaker[AsyncSession], amount: str) -> None:
    async with sf() as session, session.begin():
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=USDT)
        await ledger.transfer(
            session=session, idempotency_key="fund", from_account_id=custody.id,
            to_account_id=await _wallet(session), amount=Money.of(amount, USDT),
        )  # fmt: skip


async def _available(sf: async_sessionmaker[AsyncSession]) -> Money:
    async with sf() as session, session.begin():
        return await ledger.available(session=session, account_id=await _wallet(session))


async def _withdraw(sf: async_sessionmaker[AsyncSession], key: str) -> int:
    """The flow's unit of work: the refusal's records (and here the hold) commit, the error goes on."""
    async with sf() as session:
        with pytest.raises(WithdrawalHeldForReview) as refused:
            await request_withdrawal(
                session=session, request_key=key, network=Network.TRC20, owner_type="customer",
                owner_id=CUSTOMER, address=ADDRESS, amount=Money.of(10, USDT), fee=Money.of(1, USDT),
                gate=ReviewEverything(), amount_kes=Money.of(1300, Asset.KES),
            )  # fmt: skip
        await session.commit()
    return refused.value.withdrawal_id


async def _movement_of(sf: async_sessionmaker[AsyncSession], key: str) -> Movement:
    async with sf() as session:
        return (
            await session.execute(select(Movement).where(Movement.reference == f"withdrawal:{key}"))
        ).scalar_one()


async def _jobs(sf: async_sessionmaker[AsyncSession], job: str) -> list[OutboxJob]:
    async with sf() as session:
        return list((await session.execute(select(OutboxJob).where(OutboxJob.job == job))).scalars())


async def _status(sf: async_sessionmaker[AsyncSession], withdrawal_id: int) -> str:
    async with sf() as session:
        row = await session.get(Withdrawal, withdrawal_id)
        assert row is not None
        return row.status


async def _settle(sf: async_sessionmaker[AsyncSession], key: str, approved: bool) -> str:
    async with sf() as session, session.begin():
        return await settle_review(session=session, request_key=key, approved=approved)


async def _sms_codes(sf: async_sessionmaker[AsyncSession]) -> list[str]:
    return [job.kwargs["code"] for job in await _jobs(sf, "compliance.notices.send_notice")]


async def test_held_for_review_then_approved_is_sent_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _fund(session_factory, "50")
    withdrawal_id = await _withdraw(session_factory, "w-review")
    assert await _status(session_factory, withdrawal_id) == "review"
    assert await _available(session_factory) == Money.of(39, USDT)  # amount + fee held, not refused
    assert await _jobs(session_factory, SEND_JOB) == []  # nothing goes to the signer yet
    assert await _withdraw(session_factory, "w-review") == withdrawal_id  # a retry: the same one
    assert await _available(session_factory) == Money.of(39, USDT)

    movement = await _movement_of(session_factory, "w-review")
    async with session_factory() as session, session.begin():
        await reviews.decide(session=session, movement_id=movement.id, approve=True, actor="staff:1", now=NOW)
    assert await _sms_codes(session_factory) == ["compliance.sms.withdrawal_approved"]
    [decided] = await _jobs(session_factory, reviews.WITHDRAWAL_DECIDED_JOB)
    assert decided.kwargs == {"request_key": "w-review", "approved": True}
    assert (
        await _movement_of(session_factory, "w-review")
    ).reason_code == reviews.APPROVED_USED  # no free retry

    assert await _settle(session_factory, "w-review", True) == "held"
    assert await _settle(session_factory, "w-review", True) == "held"  # the job rerun after a crash
    [send] = await _jobs(session_factory, SEND_JOB)
    assert send.kwargs == {"withdrawal_id": withdrawal_id} and send.queue == "wallets"
    assert await _available(session_factory) == Money.of(39, USDT)  # still held until it confirms


@pytest.mark.parametrize("expired", [False, True])
async def test_refused_or_expired_review_gives_the_money_back_with_an_sms(
    session_factory: async_sessionmaker[AsyncSession], expired: bool
) -> None:
    await _fund(session_factory, "50")
    withdrawal_id = await _withdraw(session_factory, "w-no")
    movement = await _movement_of(session_factory, "w-no")
    async with session_factory() as session, session.begin():
        if expired:
            assert (
                await reviews.expire(
                    session=session, older_than=timedelta(days=3), now=NOW + timedelta(days=4)
                )
                == 1
            )
        else:
            await reviews.decide(
                session=session, movement_id=movement.id, approve=False, actor="staff:1", now=NOW
            )
    assert await _available(session_factory) == Money.of(50, USDT)  # free with the decision, before the job
    outcome = "expired" if expired else "refused"
    assert await _sms_codes(session_factory) == [f"compliance.sms.withdrawal_{outcome}"]
    [decided] = await _jobs(session_factory, reviews.WITHDRAWAL_DECIDED_JOB)
    assert decided.kwargs == {"request_key": "w-no", "approved": False}

    assert await _settle(session_factory, "w-no", False) == "failed"
    assert await _settle(session_factory, "w-no", True) == "failed"  # decided once: a late job does nothing
    assert await _status(session_factory, withdrawal_id) == "failed"
    assert await _jobs(session_factory, SEND_JOB) == []
    assert await _available(session_factory) == Money.of(50, USDT)


async def test_the_decided_job_runs_through_the_runtime(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Runtime:
        pass

    current = Runtime()
    current.session_factory = session_factory  # type: ignore[attr-defined]
    monkeypatch.setattr("core.runtime.get", lambda: current)
    await _fund(session_factory, "50")
    await _withdraw(session_factory, "w-job")
    assert await review_decided("w-job", True) == "held"
    assert await review_decided("w-missing", True) == "missing"
