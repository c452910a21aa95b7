"""Quotes against the real ledger: fees land exactly, expiry with an injected clock, executed twice posts once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.clock import FixedClock
from core.fx import service as fx_service
from core.fx.errors import RatesUnavailable
from core.fx.sources import DemoRateSource
from core.ledger import service as ledger
from core.ledger.models import AccountKind, JournalEntry, OwnerType, PostingRequest
from core.money import Asset, Money
from core.quotes import service as quotes
from core.quotes.errors import QuoteAlreadyUsed, QuoteExpired, QuoteNotFound
from core.quotes.maths import Given, QuoteKind, QuoteRequest

KES = Asset.KES
USDT = Asset.USDT_TRC20


def kes(text: str) -> Money:
    return Money.of(text, KES)


async def wallet(session, customer_id: int, asset: Asset):
    return await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=asset
    )


async def fund(session, account, amount: Money, source_kind: AccountKind) -> None:
    source = await ledger.system_account(session=session, kind=source_kind, asset=amount.asset)
    await ledger.post_entry(
        session=session,
        idempotency_key=f"fund-{account.id}-{amount.minor}",
        kind="deposit",
        postings=[PostingRequest(source.id, -amount), PostingRequest(account.id, amount)],
    )


async def system_balance(session, kind: AccountKind, asset: Asset) -> Money:
    account = await ledger.system_account(session=session, kind=kind, asset=asset)
    return await ledger.balance(session=session, account_id=account.id)


async def entries(session) -> int:
    return (await session.execute(select(func.count()).select_from(JournalEntry))).scalar_one()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


async def _ready(session, clock) -> None:
    await fx_service.refresh(session=session, sources=[DemoRateSource()], clock=clock)


async def test_buy_executes_with_fees_and_margin_exactly(session_factory, clock):
    async with session_factory() as session:
        await _ready(session, clock)
        kes_wallet, usdt_wallet = await wallet(session, 7, KES), await wallet(session, 7, USDT)
        await fund(session, kes_wallet, kes("1500"), AccountKind.MPESA_FLOAT)
        request = QuoteRequest(QuoteKind.BUY, USDT, kes("1000"))
        quote = await quotes.create_quote(session=session, request=request, clock=clock, customer_id=7)
        assert quote.expires_at == clock.now() + timedelta(seconds=60)
        assert quote.rate_source == "demo"
        clock.advance(seconds=59)
        done = await quotes.execute_quote(
            session=session, quote_id=quote.id, pay_account_id=kes_wallet.id,
            receive_account_id=usdt_wallet.id, idempotency_key="buy-1", clock=clock,
        )  # fmt: skip
        await session.commit()
        assert not done.replayed
        assert await ledger.balance(session=session, account_id=kes_wallet.id) == kes("500")
        assert await ledger.balance(session=session, account_id=usdt_wallet.id) == Money.of("7.683589", USDT)
        assert await system_balance(session, AccountKind.FX_REVENUE, KES) == kes("4.97")
        assert await system_balance(session, AccountKind.FX_LIQUIDITY, KES) == kes("995.03")
        assert await system_balance(session, AccountKind.FX_LIQUIDITY, USDT) == -Money.of("7.683589", USDT)


async def test_sell_to_mpesa_puts_the_fee_in_fee_revenue(session_factory, clock):
    async with session_factory() as session:
        await _ready(session, clock)
        usdt_wallet, kes_wallet = await wallet(session, 8, USDT), await wallet(session, 8, KES)
        await fund(session, usdt_wallet, Money.of("10", USDT), AccountKind.CUSTODY)
        request = QuoteRequest(QuoteKind.SELL, USDT, Money.of("10", USDT))
        quote = await quotes.create_quote(session=session, request=request, clock=clock)
        terms = quotes.terms_of(quote)
        assert terms.payout == kes("1258") and terms.change == kes("0.52")
        await quotes.execute_quote(
            session=session, quote_id=quote.id, pay_account_id=usdt_wallet.id,
            receive_account_id=kes_wallet.id, idempotency_key="sell-1", clock=clock,
        )  # fmt: skip
        await session.commit()
        assert await ledger.balance(session=session, account_id=usdt_wallet.id) == Money.zero(USDT)
        assert await ledger.balance(session=session, account_id=kes_wallet.id) == kes("1258.52")
        assert await system_balance(session, AccountKind.FEE_REVENUE, KES) == kes("30")
        assert await system_balance(session, AccountKind.FX_REVENUE, KES) == kes("6.48")
        assert await system_balance(session, AccountKind.FX_LIQUIDITY, KES) == -kes("1295")


async def test_send_pays_withdrawal_fee_and_network_fee(session_factory, clock):
    async with session_factory() as session:
        sender, recipient = await wallet(session, 9, USDT), await wallet(session, 10, USDT)
        await fund(session, sender, Money.of("20", USDT), AccountKind.CUSTODY)
        request = QuoteRequest(QuoteKind.SEND, USDT, Money.of("10", USDT), chain_fee=Money.of("1", USDT))
        quote = await quotes.create_quote(session=session, request=request, clock=clock)
        await quotes.execute_quote(
            session=session, quote_id=quote.id, pay_account_id=sender.id, receive_account_id=recipient.id,
            idempotency_key="send-1", clock=clock,
        )  # fmt: skip
        assert await ledger.balance(session=session, account_id=recipient.id) == Money.of("8.95", USDT)
        assert await system_balance(session, AccountKind.FEE_REVENUE, USDT) == Money.of("0.05", USDT)
        assert await system_balance(session, AccountKind.NETWORK_FEES, USDT) == Money.of("1", USDT)


async def test_executed_twice_posts_once(session_factory, clock):
    async with session_factory() as session:
        await _ready(session, clock)
        kes_wallet, usdt_wallet = await wallet(session, 7, KES), await wallet(session, 7, USDT)
        await fund(session, kes_wallet, kes("5000"), AccountKind.MPESA_FLOAT)
        request = QuoteRequest(QuoteKind.BUY, USDT, Money.of("5", USDT), given=Given.RECEIVE)
        quote = await quotes.create_quote(session=session, request=request, clock=clock)
        args = {"session": session, "quote_id": quote.id, "pay_account_id": kes_wallet.id,
                "receive_account_id": usdt_wallet.id, "clock": clock}  # fmt: skip
        first = await quotes.execute_quote(idempotency_key="k1", **args)
        await session.commit()
        before = await entries(session)
        again = await quotes.execute_quote(idempotency_key="k1", **args)
        assert again.replayed and again.entry_id == first.entry_id
        with pytest.raises(QuoteAlreadyUsed):
            await quotes.execute_quote(idempotency_key="k2", **args)
        assert await entries(session) == before
        assert await ledger.balance(session=session, account_id=usdt_wallet.id) >= Money.of("5", USDT)
        assert (
            await ledger.balance(session=session, account_id=kes_wallet.id)
            == kes("5000") - quotes.terms_of(quote).pay
        )


async def test_expired_quote_is_refused(session_factory, clock):
    async with session_factory() as session:
        await _ready(session, clock)
        kes_wallet, usdt_wallet = await wallet(session, 7, KES), await wallet(session, 7, USDT)
        await fund(session, kes_wallet, kes("1000"), AccountKind.MPESA_FLOAT)
        quote = await quotes.create_quote(
            session=session, request=QuoteRequest(QuoteKind.BUY, USDT, kes("100")), clock=clock
        )
        before = await entries(session)
        clock.advance(seconds=61)
        with pytest.raises(QuoteExpired) as caught:
            await quotes.execute_quote(
                session=session, quote_id=quote.id, pay_account_id=kes_wallet.id,
                receive_account_id=usdt_wallet.id, idempotency_key="late", clock=clock,
            )  # fmt: skip
        assert caught.value.code == "quote_expired"
        assert await entries(session) == before


async def test_stale_rates_stop_quoting(session_factory, clock):
    async with session_factory() as session:
        await _ready(session, clock)
        clock.advance(minutes=5, seconds=1)
        with pytest.raises(RatesUnavailable):
            await quotes.create_quote(
                session=session, request=QuoteRequest(QuoteKind.BUY, USDT, kes("100")), clock=clock
            )


async def test_a_quote_is_executed_only_from_its_customers_account(session_factory, clock):
    async with session_factory() as session:
        await _ready(session, clock)
        mine, theirs = await wallet(session, 7, KES), await wallet(session, 8, KES)
        await fund(session, theirs, kes("1000"), AccountKind.MPESA_FLOAT)
        quote = await quotes.create_quote(
            session=session, request=QuoteRequest(QuoteKind.BUY, USDT, kes("100")), clock=clock, customer_id=7
        )
        with pytest.raises(QuoteNotFound):
            await quotes.execute_quote(
                session=session, quote_id=quote.id, pay_account_id=theirs.id,
                receive_account_id=(await wallet(session, 7, USDT)).id, idempotency_key="x", clock=clock,
            )  # fmt: skip
        assert mine.id != theirs.id
