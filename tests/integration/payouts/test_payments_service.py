"""core.payments on both databases: the hold, the row and the outbox in one transaction; exactly-once
resolution; limits and bad input. No HTTP here."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.identity.errors import InvalidPhoneNumber
from core.ledger import service as ledger
from core.ledger.models import AccountKind, Hold, JournalEntry, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.payments import collections, errors, service
from core.payments.models import Payout
from payouts.mpesa import results

KES = Asset.KES


async def _wallet(factory, customer: int, shillings: str = "1000") -> int:
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer, asset=KES
        )
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        money = Money.of(shillings, KES)
        await ledger.post_entry(
            session=session,
            idempotency_key=f"seed-{customer}",
            kind="deposit",
            postings=[PostingRequest(float_account.id, -money), PostingRequest(wallet.id, money)],
        )
        await session.commit()
        return wallet.id


async def _create(factory, wallet: int, amount: str = "150.75", key: str = "k1", phone: str = "0712345678"):
    async with factory() as session:
        payout = await service.create_payout(
            session=session,
            idempotency_key=key,
            account_id=wallet,
            phone=phone,
            amount=Money.of(amount, KES),
            customer_id=1,
        )
        await session.commit()
        return payout


async def test_create_payout_holds_whole_shillings_and_stages_the_job(session_factory):
    wallet = await _wallet(session_factory, 1)
    payout = await _create(session_factory, wallet)
    assert payout.amount_minor == 15000 and payout.phone == "254712345678" and payout.status == "created"
    assert payout.originator_conversation_id == payout.id
    async with session_factory() as session:
        # the 0.75 stays available: only the whole shillings are held
        assert await ledger.available(session=session, account_id=wallet) == Money.of("850.00", KES)
        job = (await session.execute(select(OutboxJob))).scalar_one()
    assert job.job == "payouts.jobs.send_payout" and job.kwargs == {"payout_id": payout.id}
    again = await _create(session_factory, wallet)
    assert again.id == payout.id
    with pytest.raises(errors.PaymentConflict):
        await _create(session_factory, wallet, amount="99")


async def test_nothing_is_written_when_the_caller_rolls_back(session_factory):
    wallet = await _wallet(session_factory, 1)
    async with session_factory() as session:
        await service.create_payout(
            session=session,
            idempotency_key="rb",
            account_id=wallet,
            phone="0712345678",
            amount=Money.of(100, KES),
        )
        await session.rollback()
    async with session_factory() as session:
        assert (await session.execute(select(Payout))).first() is None
        assert (await session.execute(select(OutboxJob))).first() is None
        assert (await session.execute(select(Hold))).first() is None


@pytest.mark.parametrize("amount", ["9.99", "250001", "0.50"])
async def test_amount_limits(session_factory, amount):
    wallet = await _wallet(session_factory, 1, "300000")
    with pytest.raises(errors.PayoutAmountOutOfRange):
        await _create(session_factory, wallet, amount=amount)


@pytest.mark.parametrize("phone", ["0202345678", "+255712345678", "12345", "07123456789x"])
async def test_invalid_msisdn(session_factory, phone):
    wallet = await _wallet(session_factory, 1)
    with pytest.raises(InvalidPhoneNumber):
        await _create(session_factory, wallet, phone=phone)


async def test_daily_limit(session_factory):
    wallet = await _wallet(session_factory, 1, "600000")
    await _create(session_factory, wallet, amount="250000", key="a")
    await _create(session_factory, wallet, amount="250000", key="b")
    with pytest.raises(errors.PayoutDailyLimit):
        await _create(session_factory, wallet, amount="10", key="c")


async def _apply(factory, payout, code: str, amount: Decimal | None = None, conv: str = "AG_1") -> str:
    async with factory() as session:
        outcome = await service.apply_payout_result(
            session=session,
            originator_conversation_id=payout.id,
            conversation_id=conv,
            result=results.b2c_result(code, "desc"),
            receipt="SABC",
            amount=amount,
        )
        await session.commit()
    return outcome


async def test_result_posts_exactly_once_and_late_contradiction_is_flagged(session_factory):
    wallet = await _wallet(session_factory, 1)
    payout = await _create(session_factory, wallet, amount="100")
    assert await _apply(session_factory, payout, "0", Decimal(100)) == "succeeded"
    assert await _apply(session_factory, payout, "0", Decimal(100)) == "duplicate"
    assert await _apply(session_factory, payout, "2040") == "conflicting_duplicate"
    async with session_factory() as session:
        row = await service.get_payout(session=session, payout_id=payout.id)
        entries = (
            await session.execute(select(JournalEntry).where(JournalEntry.kind == "mpesa_payout"))
        ).all()
        assert await ledger.balance(session=session, account_id=wallet) == Money.of(900, KES)
        assert (await verify(session=session)).ok
    assert row.status == "succeeded" and row.flagged and len(entries) == 1


async def test_failure_voids_and_amount_mismatch_is_flagged(session_factory):
    wallet = await _wallet(session_factory, 1)
    failed = await _create(session_factory, wallet, amount="100", key="f")
    odd = await _create(session_factory, wallet, amount="200", key="o")
    assert await _apply(session_factory, failed, "2040") == "failed"
    assert await _apply(session_factory, odd, "0", Decimal(20)) == "amount_mismatch"
    async with session_factory() as session:
        assert (await service.get_payout(session=session, payout_id=failed.id)).status == "failed"
        flagged = await service.get_payout(session=session, payout_id=odd.id)
        assert await ledger.available(session=session, account_id=wallet) == Money.of(800, KES)
    assert flagged.flagged and flagged.status == "unknown"


async def test_retryable_result_sends_again_under_a_new_id(session_factory):
    wallet = await _wallet(session_factory, 1)
    payout = await _create(session_factory, wallet, amount="100")
    async with session_factory() as session:
        await service.claim_for_send(session=session, payout_id=payout.id)
        await session.commit()
    assert await _apply(session_factory, payout, "26") == "retry"
    async with session_factory() as session:
        row = await service.get_payout(session=session, payout_id=payout.id)
        jobs = (await session.execute(select(OutboxJob))).scalars().all()
    assert row.status == "created" and row.originator_conversation_id == f"{payout.id}-r1" and len(jobs) == 2


async def test_status_not_found_resends_only_if_never_accepted(session_factory):
    wallet = await _wallet(session_factory, 1)
    payout = await _create(session_factory, wallet, amount="100")
    async with session_factory() as session:
        await service.claim_for_send(session=session, payout_id=payout.id)
        claim = await service.claim_for_send(session=session, payout_id=payout.id)  # the crashed re-run
        assert not claim.send and claim.payout.status == "unknown"
        outcome = await service.apply_status_answer(
            session=session,
            originator_conversation_id=payout.id,
            status_query_id="q1",
            result=results.status_result(
                found=False, transaction_status="", transaction_result_code="", desc=""
            ),
            receipt="",
            amount=None,
        )
        await session.commit()
    assert outcome == "resend"


async def test_stk_callback_credits_once_and_flags_mismatch(session_factory):
    async with session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=7, asset=KES
        )
        good = await collections.create_collection(
            session=session,
            idempotency_key="c1",
            customer_id=7,
            account_id=wallet.id,
            phone="0712345678",
            amount=Money.of(100, KES),
        )
        await collections.mark_requested(
            session=session, collection_id=good.id, checkout_request_id="ws_1", merchant_request_id="m"
        )
        await session.commit()
    for expected in ("succeeded", "duplicate"):
        async with session_factory() as session:
            outcome = await collections.apply_stk_callback(
                session=session,
                checkout_request_id="ws_1",
                result_code="0",
                result_desc="ok",
                amount=Decimal(100),
                receipt="R1",
                phone="254712345678",
                raw={},
            )
            await session.commit()
        assert outcome == expected
    async with session_factory() as session:
        assert await ledger.balance(session=session, account_id=wallet.id) == Money.of(100, KES)
    with pytest.raises(errors.CollectionAmountOutOfRange):
        async with session_factory() as session:
            await collections.create_collection(
                session=session,
                idempotency_key="c2",
                customer_id=7,
                account_id=wallet.id,
                phone="0712345678",
                amount=Money.of("10.50", KES),
            )


async def test_shortcode_daily_value_limit_holds_payouts_back(session_factory):
    wallet = await _wallet(session_factory, 1, "5000")
    first = await _create(session_factory, wallet, amount="3000", key="d1")
    second = await _create(session_factory, wallet, amount="1500", key="d2")
    async with session_factory() as session:
        assert (
            await service.claim_for_send(
                session=session, payout_id=first.id, shortcode_daily_limit_minor=400_000
            )
        ).send
        held = await service.claim_for_send(
            session=session, payout_id=second.id, shortcode_daily_limit_minor=400_000
        )
        await session.commit()
    assert not held.send and held.payout.status == "created" and "daily" in held.payout.result_desc
