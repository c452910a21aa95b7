"""Retrying a failed payout needs two people (core.payments.retries): the maker cannot approve their
own request, an approval stages ONE new payout under a key derived from the request (a second or a
concurrent approval pays nothing more), and the portal and the staff API both go through it."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit.models import AuditEntry
from core.clock import FixedClock
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.payments import retries
from core.payments import service as payments
from core.payments.errors import PayoutNotRetryable, PayoutRetryNotPending, PayoutRetrySamePerson
from core.payments.models import Payout, PayoutRetry, PayoutStatus
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in
from tests.integration.staff_portal.test_config_changes_api import _bearer

Factory = async_sessionmaker[AsyncSession]
KES = Asset.KES


async def _failed_payout(factory: Factory, phone: str) -> tuple[str, int]:
    """A customer with KES 2,000 whose payout of KES 1,500 M-Pesa refused (the funds are back)."""
    async with factory() as session:
        customer = await identity.register_customer(
            session=session, phone=phone, name="Achieng Otieno", national_id=phone[-8:], language="en",
            pin="4826",
        )  # fmt: skip
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer.id, asset=KES
        )
        liquidity = await ledger.system_account(session=session, kind=AccountKind.FX_LIQUIDITY, asset=KES)
        await ledger.post_entry(
            session=session, idempotency_key=f"fund:{phone}", kind="quote_sell",
            postings=[PostingRequest(liquidity.id, -Money.of(2000, KES)), PostingRequest(wallet.id, Money.of(2000, KES))],
        )  # fmt: skip
        payout = await payments.create_payout(
            session=session, idempotency_key=f"sell:{phone}", account_id=wallet.id, phone=customer.phone,
            amount=Money.of(1500, KES), customer_id=customer.id, remarks="Kibeti sell",
        )  # fmt: skip
        await session.flush()
        await payments.fail_payout(session=session, payout_id=payout.id, result_code="2001", reason="refused")
        await session.commit()
        return payout.id, wallet.id


async def _sends(session: AsyncSession, payout_id: str) -> int:
    statement = select(func.count()).where(
        OutboxJob.job == payments.SEND_JOB, OutboxJob.dedupe_key.like(f"payout:{payout_id}:send:%")
    )
    return int((await session.execute(statement)).scalar_one())


async def test_a_second_person_approves_and_the_retry_is_sent_once(session_factory: Factory) -> None:
    clock = FixedClock()
    payout_id, wallet_id = await _failed_payout(session_factory, "0712000101")
    async with session_factory() as session:
        with pytest.raises(PayoutNotRetryable):  # why is part of the record
            await retries.propose(session=session, payout_id=payout_id, maker_id=1, reason=" ", clock=clock)
        await session.rollback()
        request = await retries.propose(
            session=session, payout_id=payout_id, maker_id=1, reason="customer fixed the line", clock=clock
        )
        request_id = request.id
        await session.commit()
        with pytest.raises(PayoutRetryNotPending):  # one request per failed payout
            await retries.propose(
                session=session, payout_id=payout_id, maker_id=2, reason="again", clock=clock
            )
        await session.rollback()
        with pytest.raises(PayoutRetrySamePerson):
            await retries.approve(session=session, request_id=request_id, checker_id=1, clock=clock)
        await session.rollback()
        assert await ledger.available(session=session, account_id=wallet_id) == Money.of(2000, KES)

    async def approve(checker: int) -> str:
        async with session_factory() as session:
            try:
                done = await retries.approve(
                    session=session, request_id=request_id, checker_id=checker, clock=clock
                )
            except PayoutRetryNotPending:
                await session.rollback()
                return "refused"
            await session.commit()
            return done.retry_payout_id or ""

    outcomes = await asyncio.gather(approve(2), approve(3))
    assert sorted(o == "refused" for o in outcomes) == [False, True], outcomes
    assert await approve(2) == "refused"
    async with session_factory() as session:
        retried = (
            await session.scalars(select(Payout).where(Payout.idempotency_key.like("payout-retry:%")))
        ).all()
        assert len(retried) == 1
        retry = retried[0]
        assert retry.id != payout_id and retry.idempotency_key == f"payout-retry:{request_id}"
        assert retry.status == PayoutStatus.CREATED.value and retry.amount_minor == 150000
        assert await _sends(session, retry.id) == 1
        assert await ledger.available(session=session, account_id=wallet_id) == Money.of(500, KES)
        stored = await session.get(PayoutRetry, request_id)
        assert stored is not None and stored.status == "approved" and stored.retry_payout_id == retry.id
        with pytest.raises(PayoutNotRetryable):  # a payout not failed is not retried
            await retries.propose(
                session=session, payout_id=retry.id, maker_id=1, reason="x y z", clock=clock
            )


async def test_portal_retry_needs_a_second_finance_user(session_factory: Factory) -> None:
    clock = FixedClock()
    maker_login = await make_staff(session_factory, clock, "finance")
    clock.advance(seconds=1)
    checker_login = await make_staff(session_factory, clock, "finance")
    payout_id, _wallet = await _failed_payout(session_factory, "0712000102")
    async with portal_client(session_factory, clock) as (_app, maker, _rt):
        await sign_in(maker, clock, maker_login)
        page = await maker.get(f"/staff/payouts/{payout_id}")
        assert f'action="/staff/payouts/{payout_id}/retry"' in page.text
        token = csrf_of(page.text)
        bad = await maker.post(f"/staff/payouts/{payout_id}/retry", data={"csrf_token": token, "reason": ""})
        assert bad.status_code == 422 and 'id="e-reason"' in bad.text
        asked = await maker.post(
            f"/staff/payouts/{payout_id}/retry", data={"csrf_token": token, "reason": "line fixed"}
        )
        assert asked.status_code == 303
        page = await maker.get(f"/staff/payouts/{payout_id}")
        found = re.search(r"/staff/payouts/retries/(\d+)/approve", page.text)
        assert found is None  # the maker has no approve button
        request_id = await _request_id(session_factory, payout_id)
        own = await maker.post(f"/staff/payouts/retries/{request_id}/approve", data={"csrf_token": token})
        assert own.status_code == 422 and "Someone other than" in own.text
    async with portal_client(session_factory, clock) as (_app, checker, _rt):
        await sign_in(checker, clock, checker_login)
        page = await checker.get(f"/staff/payouts/{payout_id}")
        assert f"/staff/payouts/retries/{request_id}/approve" in page.text
        approved = await checker.post(
            f"/staff/payouts/retries/{request_id}/approve", data={"csrf_token": csrf_of(page.text)}
        )
        assert approved.status_code == 303
        again = await checker.post(
            f"/staff/payouts/retries/{request_id}/approve", data={"csrf_token": csrf_of(page.text)}
        )
        assert again.status_code == 422
    async with session_factory() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject == f"payout:{payout_id}")
            )
        ).all()
        assert {"payouts.retry_proposed", "payouts.retry_approved"} <= set(actions)
        count = await session.execute(
            select(func.count()).where(Payout.idempotency_key.like("payout-retry:%"))
        )
        assert count.scalar_one() == 1


async def _request_id(factory: Factory, payout_id: str) -> int:
    async with factory() as session:
        found = await retries.request_for(session=session, payout_id=payout_id)
        assert found is not None
        return found.id


async def test_retry_over_the_staff_api(session_factory: Factory) -> None:
    clock = FixedClock()
    first = await make_staff(session_factory, clock, "finance")
    clock.advance(seconds=1)
    second = await make_staff(session_factory, clock, "finance")
    support = await make_staff(session_factory, clock, "support")
    payout_id, _wallet = await _failed_payout(session_factory, "0712000103")
    maker, checker, reader = (
        await _bearer(session_factory, clock, first.id),
        await _bearer(session_factory, clock, second.id),
        await _bearer(session_factory, clock, support.id),
    )
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        url = f"/api/staff/payouts/{payout_id}/retry"
        assert (await client.post(url, headers=reader, json={"reason": "x"})).status_code == 403
        proposed = await client.post(url, headers=maker, json={"reason": "line fixed"})
        assert proposed.status_code == 201, proposed.text
        request_id = proposed.json()["id"]
        own = await client.post(f"/api/staff/payouts/retries/{request_id}/approve", headers=maker)
        assert own.status_code == 409 and own.json()["code"] == "payout_retry_same_person"
        approved = await client.post(f"/api/staff/payouts/retries/{request_id}/approve", headers=checker)
        assert approved.status_code == 200 and approved.json()["retry_payout_id"]
        again = await client.post(f"/api/staff/payouts/retries/{request_id}/approve", headers=checker)
        assert again.status_code == 409 and again.json()["code"] == "payout_retry_not_pending"
