"""The core reads behind /metrics and `kibeti doctor` (payments, ledger, outbox, fx queries), on both
databases: what each counts, what it leaves out, and what an empty database answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.fx import queries as fx_queries
from core.fx.models import FxRate
from core.ledger import queries as ledger_queries
from core.ledger import service as ledger
from core.ledger.models import PostingRequest
from core.ledger.types import AccountKind, OwnerType
from core.money import Asset, Money
from core.outbox import queries as outbox_queries
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments import queries as payments_queries
from core.payments.models import MpesaCollection, Payout
from core.payments.types import CollectionStatus, PayoutStatus

Factory = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _payout(
    number: int, status: PayoutStatus, updated_at: datetime, unknown_since: datetime | None = None
) -> Payout:
    name = f"p-reads-{number}"
    return Payout(
        id=name, idempotency_key=name, originator_conversation_id=name, phone="254700000001", account_id=1,
        amount_minor=50_000, hold_id=number, status=status.value, created_at=T0, updated_at=updated_at,
        unknown_since=unknown_since,
    )  # fmt: skip


async def test_an_empty_database_answers_every_state_at_zero(session_factory: Factory) -> None:
    async with session_factory() as session:
        payouts = await payments_queries.payout_counts_by_status(session=session)
        collections = await payments_queries.collection_counts_by_status(session=session)
        assert payouts == dict.fromkeys((s.value for s in PayoutStatus), 0)
        assert collections == dict.fromkeys((s.value for s in CollectionStatus), 0)
        assert await payments_queries.oldest_unknown_payout_update(session=session) is None
        assert await outbox_queries.backlog(session=session) == outbox_queries.Backlog(0, None)
        assert await ledger_queries.float_held_minor(session=session) == {}
        assert await ledger_queries.customer_wallets_total_minor(session=session) == dict.fromkeys(
            (a.value for a in Asset), 0
        )
        assert await fx_queries.last_fetch_per_pair(session=session) == {}


async def test_payouts_and_collections_per_state_and_the_oldest_unknown(session_factory: Factory) -> None:
    async with session_factory() as session:
        session.add_all(
            [
                _payout(1, PayoutStatus.UNKNOWN, T0 + timedelta(minutes=5)),
                _payout(2, PayoutStatus.UNKNOWN, T0 + timedelta(minutes=1)),
                _payout(3, PayoutStatus.SUCCEEDED, T0),  # older, but not of unknown outcome
                MpesaCollection(
                    idempotency_key="c-reads-1", customer_id=1, account_id=1, phone="254700000001",
                    amount_minor=10_000, status=CollectionStatus.CREATED.value, created_at=T0, updated_at=T0,
                ),
            ]
        )  # fmt: skip
        await session.commit()
        payouts = await payments_queries.payout_counts_by_status(session=session)
        assert payouts[PayoutStatus.UNKNOWN.value] == 2 and payouts[PayoutStatus.SUCCEEDED.value] == 1
        assert sum(payouts.values()) == 3
        collections = await payments_queries.collection_counts_by_status(session=session)
        assert collections[CollectionStatus.CREATED.value] == 1 and sum(collections.values()) == 1
        oldest = await payments_queries.oldest_unknown_payout_update(session=session)
        assert oldest == T0 + timedelta(minutes=1)
        # unknown since before both, asked about since (updated_at moved): its unknown_since counts
        session.add(_payout(4, PayoutStatus.UNKNOWN, T0 + timedelta(minutes=9), T0 - timedelta(minutes=30)))
        await session.commit()
        oldest = await payments_queries.oldest_unknown_payout_update(session=session)
        assert oldest == T0 - timedelta(minutes=30)


async def test_float_held_is_the_negated_float_balance_and_owed_sums_customer_wallets(
    session_factory: Factory,
) -> None:
    kes = Asset.KES
    async with session_factory() as session:
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=kes)
        fees = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=kes)
        for customer_id, amount in ((1, "1000.00"), (2, "250.50")):
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=kes
            )
            await ledger.post_entry(
                session=session, idempotency_key=f"reads-fund-{customer_id}", kind="deposit",
                postings=[
                    PostingRequest(float_account.id, -Money.of(amount, kes)),
                    PostingRequest(wallet.id, Money.of(amount, kes)),
                ],
            )  # fmt: skip
        fee = Money.of("0.50", kes)
        await ledger.post_entry(  # out of a customer wallet, into no float: neither figure counts it
            session=session, idempotency_key="reads-fee", kind="fee",
            postings=[PostingRequest(wallet.id, -fee), PostingRequest(fees.id, fee)],
        )  # fmt: skip
        await session.commit()
        held = await ledger_queries.float_held_minor(session=session)
        assert held == {(AccountKind.MPESA_FLOAT.value, kes.value): 125_050}
        owed = await ledger_queries.customer_wallets_total_minor(session=session)
        assert owed[kes.value] == 125_000
        assert owed[Asset.BTC.value] == 0


async def test_outbox_backlog_counts_what_is_not_done(session_factory: Factory) -> None:
    async with session_factory() as session:
        session.add_all(
            [
                OutboxJob(dedupe_key="reads-done", job="x.y", status=OutboxStatus.DONE.value, created_at=T0),
                OutboxJob(dedupe_key="reads-1", job="x.y", kwargs={}, created_at=T0 + timedelta(seconds=30)),
                OutboxJob(dedupe_key="reads-2", job="x.y", kwargs={}, created_at=T0 + timedelta(seconds=90)),
            ]
        )  # fmt: skip
        await session.commit()
        assert await outbox_queries.backlog(session=session) == outbox_queries.Backlog(
            pending=2, oldest_created_at=T0 + timedelta(seconds=30)
        )


async def test_last_fetch_per_pair_is_the_newest_of_any_kind(session_factory: Factory) -> None:
    def rate(base: str, kind: str, fetched_at: datetime) -> FxRate:
        return FxRate(
            base=base, quote="KES", kind=kind, rate="1", bid="1", ask="1", source="test", as_of=fetched_at,
            fetched_at=fetched_at,
        )  # fmt: skip

    async with session_factory() as session:
        session.add_all(
            [
                rate("USDT", "fetched", T0),
                rate("USDT", "cross", T0 + timedelta(minutes=2)),
                rate("BTC", "fetched", T0 + timedelta(minutes=1)),
            ]
        )
        await session.commit()
        assert await fx_queries.last_fetch_per_pair(session=session) == {
            ("USDT", "KES"): T0 + timedelta(minutes=2),
            ("BTC", "KES"): T0 + timedelta(minutes=1),
        }
