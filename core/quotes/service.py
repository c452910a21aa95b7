"""Quotes: price and store a quote (rate and fees locked), and execute it exactly once.

`execute_quote` posts one ledger entry with the quote's locked numbers, whatever the market did
since (price movement within the buffer margin is the house's risk):

    buy   KES: customer -pay, fee revenue +fees, FX revenue +margin, FX liquidity +cost
          crypto: FX liquidity -receive, customer +receive
    sell  crypto: customer -pay, FX liquidity +pay
          KES: FX liquidity -value, fee revenue +fees, FX revenue +margin, customer +receive
    send  crypto: customer -pay, fee revenue +withdrawal fee, network fees +network fee,
          destination +receive

The ledger idempotency key is derived from the quote id, so a quote can never post twice, even
when two executions race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.fees import service as fees_service
from core.fx import service as fx_service
from core.fx.policy import FxPolicy
from core.fx.rates import Rate
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.money import Asset, Money
from core.quotes.errors import QuoteAlreadyUsed, QuoteExpired, QuoteNotFound
from core.quotes.maths import FeeLine, Given, QuoteKind, QuoteRequest, QuoteTerms, Rail, compute_quote
from core.quotes.models import Quote, QuoteStatus

NETWORK_FEE_KINDS = frozenset({"network"})


@dataclass(frozen=True)
class Execution:
    quote_id: int
    entry_id: int
    replayed: bool


async def price(
    *,
    session: AsyncSession,
    request: QuoteRequest,
    clock: Clock,
    kyc_tier: int | None = None,
    merchant_id: int | None = None,
    max_age: timedelta | None = None,
) -> tuple[QuoteTerms, Rate | None, tuple[int, ...]]:
    """Compute terms from the current rate (RatesUnavailable when stale) and the fees in force."""
    rate = None
    if request.kind is not QuoteKind.SEND:
        rate = await fx_service.latest_rate(
            session=session, base=request.asset.currency, quote="KES", clock=clock, max_age=max_age
        )
    schedule = await fees_service.resolve_schedule(
        session=session, asset=request.asset, at=clock.now(), kyc_tier=kyc_tier, merchant_id=merchant_id
    )
    return compute_quote(request, rate=rate, schedule=schedule), rate, schedule.rule_ids


async def create_quote(
    *,
    session: AsyncSession,
    request: QuoteRequest,
    clock: Clock,
    customer_id: int | None = None,
    kyc_tier: int | None = None,
    merchant_id: int | None = None,
    policy: FxPolicy | None = None,
) -> Quote:
    """Price the request and store the quote, valid for `policy.quote_ttl` (default 60 s)."""
    policy = policy or FxPolicy()
    terms, rate, rule_ids = await price(
        session=session, request=request, clock=clock, kyc_tier=kyc_tier, merchant_id=merchant_id,
        max_age=policy.max_age,
    )  # fmt: skip
    now = clock.now()

    def minor(money: Money | None) -> int | None:
        return None if money is None else money.minor

    row = Quote(
        customer_id=customer_id,
        merchant_id=merchant_id,
        kind=terms.kind.value,
        asset=terms.asset.value,
        rail=terms.rail.value,
        given=request.given.value,
        pay_asset=terms.pay.asset.value,
        pay_minor=terms.pay.minor,
        receive_asset=terms.receive.asset.value,
        receive_minor=terms.receive.minor,
        fee_asset=terms.fee_asset.value,
        fee_total_minor=terms.fee_total.minor,
        fees=[{"kind": line.kind, "minor": line.amount.minor} for line in terms.fees],
        margin_minor=terms.margin.minor,
        margin_percent=str(terms.margin_percent),
        ref_rate=str(terms.ref_rate),
        rate=str(terms.rate),
        rate_id=rate.rate_id if rate else None,
        rate_source=rate.source if rate else "",
        liquidity_in_minor=minor(terms.liquidity_in),
        liquidity_out_minor=minor(terms.liquidity_out),
        payout_minor=minor(terms.payout),
        change_minor=minor(terms.change),
        fee_rule_ids=list(rule_ids),
        status=QuoteStatus.OPEN.value,
        created_at=now,
        expires_at=now + policy.quote_ttl,
    )
    session.add(row)
    await session.flush()
    return row


def terms_of(row: Quote) -> QuoteTerms:
    """The locked terms, rebuilt exactly from the stored minor units."""
    pay_asset, receive_asset = Asset(row.pay_asset), Asset(row.receive_asset)
    fee_asset = Asset(row.fee_asset)

    def money(minor: int | None, asset: Asset) -> Money | None:
        return None if minor is None else Money.from_minor(minor, asset)

    return QuoteTerms(
        kind=QuoteKind(row.kind),
        asset=Asset(row.asset),
        rail=Rail(row.rail),
        pay=Money.from_minor(row.pay_minor, pay_asset),
        receive=Money.from_minor(row.receive_minor, receive_asset),
        fees=tuple(FeeLine(f["kind"], Money.from_minor(int(f["minor"]), fee_asset)) for f in row.fees),
        margin=Money.from_minor(row.margin_minor, fee_asset),
        margin_percent=Decimal(row.margin_percent),
        ref_rate=Decimal(row.ref_rate),
        rate=Decimal(row.rate),
        liquidity_in=money(row.liquidity_in_minor, pay_asset),
        liquidity_out=money(row.liquidity_out_minor, receive_asset),
        payout=money(row.payout_minor, Asset.KES),
        change=money(row.change_minor, Asset.KES),
    )


async def get_quote(*, session: AsyncSession, quote_id: int, for_update: bool = False) -> Quote:
    statement = select(Quote).where(Quote.id == quote_id).execution_options(populate_existing=True)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None:
        raise QuoteNotFound(f"no quote {quote_id}")
    return row


async def _postings(
    session: AsyncSession, terms: QuoteTerms, pay_account_id: int, receive_account_id: int
) -> list[PostingRequest]:
    async def system(kind: AccountKind, asset: Asset) -> int:
        return (await ledger.system_account(session=session, kind=kind, asset=asset)).id

    legs: list[tuple[int, Money]] = [(pay_account_id, -terms.pay), (receive_account_id, terms.receive)]
    for line in terms.fees:
        kind = AccountKind.NETWORK_FEES if line.kind in NETWORK_FEE_KINDS else AccountKind.FEE_REVENUE
        legs.append((await system(kind, line.amount.asset), line.amount))
    legs.append((await system(AccountKind.FX_REVENUE, terms.margin.asset), terms.margin))
    if terms.liquidity_in is not None and terms.liquidity_out is not None:
        legs.append((await system(AccountKind.FX_LIQUIDITY, terms.liquidity_in.asset), terms.liquidity_in))
        legs.append((await system(AccountKind.FX_LIQUIDITY, terms.liquidity_out.asset), -terms.liquidity_out))
    return [PostingRequest(account_id, amount) for account_id, amount in legs if amount.amount != 0]


async def execute_quote(
    *,
    session: AsyncSession,
    quote_id: int,
    pay_account_id: int,
    receive_account_id: int,
    idempotency_key: str,
    clock: Clock,
) -> Execution:
    """Post the quote's locked numbers once. Refuses expired (QuoteExpired) or used (QuoteAlreadyUsed)
    quotes; a retry with the same idempotency key returns the first result (replayed=True).

    `receive_account_id` is the customer's account in the receive asset (for send: the destination).
    """
    row = await get_quote(session=session, quote_id=quote_id, for_update=True)
    if row.status == QuoteStatus.EXECUTED.value:
        if row.idempotency_key == idempotency_key and row.entry_id is not None:
            return Execution(quote_id=row.id, entry_id=row.entry_id, replayed=True)
        raise QuoteAlreadyUsed(f"quote {quote_id} has already been used")
    now = clock.now()
    if now > row.expires_at:
        raise QuoteExpired(f"quote {quote_id} expired at {row.expires_at.isoformat()}; ask for a new one")
    if row.customer_id is not None:
        payer = await ledger.get_account(session=session, account_id=pay_account_id)
        if payer.owner_type == OwnerType.CUSTOMER.value and payer.owner_id != row.customer_id:
            raise QuoteNotFound(f"quote {quote_id} belongs to another customer")
    terms = terms_of(row)
    result = await ledger.post_entry(
        session=session,
        idempotency_key=f"quote:{row.id}",
        kind=f"quote_{terms.kind.value}",
        postings=await _postings(session, terms, pay_account_id, receive_account_id),
        memo=f"{terms.kind.value} {terms.pay} -> {terms.receive}",
        details={"quote_id": row.id, "rate": row.rate, "rate_id": row.rate_id},
    )
    if result.replayed:
        raise QuoteAlreadyUsed(f"quote {quote_id} has already been used")
    row.status = QuoteStatus.EXECUTED.value
    row.executed_at = now
    row.entry_id = result.entry_id
    row.idempotency_key = idempotency_key
    await session.flush()
    return Execution(quote_id=row.id, entry_id=result.entry_id, replayed=False)


async def use_quote(*, session: AsyncSession, quote_id: int, idempotency_key: str, clock: Clock) -> Quote:
    """Mark a quote used by a movement the ledger books later (a withdrawal's hold is posted on
    confirmation), with the same refusals as execute_quote; a retry with the same key is a replay."""
    row = await get_quote(session=session, quote_id=quote_id, for_update=True)
    if row.status == QuoteStatus.EXECUTED.value:
        if row.idempotency_key == idempotency_key:
            return row
        raise QuoteAlreadyUsed(f"quote {quote_id} has already been used")
    now = clock.now()
    if now > row.expires_at:
        raise QuoteExpired(f"quote {quote_id} expired at {row.expires_at.isoformat()}; ask for a new one")
    row.status, row.executed_at, row.idempotency_key = QuoteStatus.EXECUTED.value, now, idempotency_key
    await session.flush()
    return row


__all__ = [
    "Execution",
    "Given",
    "create_quote",
    "execute_quote",
    "get_quote",
    "price",
    "terms_of",
    "use_quote",
]
