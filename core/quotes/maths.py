"""Quote maths: pure, exact, no I/O. Everything is Decimal; nothing is ever a float.

Kinds
    buy   the customer pays KES and receives crypto (rate: the ask plus the buy margin)
    sell  the customer pays crypto and receives KES (rate: the bid minus the sell margin)
    send  the customer sends crypto; the withdrawal fee and the passed-on network fee are deducted

Either the amount to pay or the amount to receive is given (`Given.PAY` / `Given.RECEIVE`).

Rounding rule (each step favours the house by less than one minor unit, never more)
    * Fees are computed exactly and rounded UP to the fee asset's minor unit (KES 0.01, sat,
      USDT 0.000001), then clamped to the rule's caps.
    * The amount the customer receives is rounded DOWN to the receive asset's minor unit.
    * M-Pesa moves whole shillings: a KES amount paid through M-Pesa must be whole; a KES amount
      paid out to M-Pesa is the whole-shilling part of what the customer receives, and the cents
      (`change`) are credited to the customer's KES wallet: never lost, never kept by the house.
    * Receive-amount quotes use the smallest pay amount (in whole shillings for M-Pesa, else the
      asset's minor unit) whose forward quote delivers at least the requested amount; the customer
      may receive slightly more than asked, never less.
    * The FX margin is not rounded separately: it is the exact remainder, so in the KES leg
      ``paid_value == received_value + fees + margin`` holds to the minor unit, where for a buy
      paid_value is the KES paid and received_value the KES cost (at the reference rate, rounded up)
      of the crypto received, and for a sell paid_value is the crypto's KES value at the reference
      rate (rounded down) and received_value the KES credited. For send the identity is in the
      crypto asset with a zero margin. These are exactly the ledger postings.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from core.fees.schedule import FeeSchedule
from core.fx.rates import Rate, Side
from core.money import Asset, Money
from core.quotes.errors import AmountTooLarge, AmountTooSmall, UnsupportedQuote

MPESA_MIN = Decimal(10)
MPESA_MAX = Decimal(250_000)
WALLET_MAX_KES = Decimal(1_000_000)
HUNDRED = Decimal(100)
ONE_SHILLING = Decimal(1)
MAX_UNITS = 10**20
_CTX = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN)


class QuoteKind(StrEnum):
    BUY = "buy"
    SELL = "sell"
    SEND = "send"


class Given(StrEnum):
    PAY = "pay"
    RECEIVE = "receive"


class Rail(StrEnum):
    """How KES enters or leaves: M-Pesa (whole shillings, 10..250,000), the KES wallet, or PesaPal
    (cards and Airtel Money through a hosted page; the same limits as M-Pesa, its own fee)."""

    MPESA = "mpesa"
    WALLET = "wallet"
    PESAPAL = "pesapal"


MOBILE_RAILS = (Rail.MPESA, Rail.PESAPAL)  # whole shillings, 10..250,000 in


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    kind: QuoteKind
    asset: Asset  # the crypto asset bought, sold or sent
    amount: Money  # what is given: in the pay asset (Given.PAY) or the receive asset
    given: Given = Given.PAY
    rail: Rail = Rail.MPESA
    chain_fee: Money | None = None  # send: the network's fee, passed on per the schedule

    @property
    def pay_asset(self) -> Asset:
        return Asset.KES if self.kind is QuoteKind.BUY else self.asset

    @property
    def receive_asset(self) -> Asset:
        return Asset.KES if self.kind is QuoteKind.SELL else self.asset


@dataclass(frozen=True, slots=True)
class FeeLine:
    kind: str
    amount: Money


@dataclass(frozen=True, slots=True)
class QuoteTerms:
    """The locked numbers of one quote; execution posts exactly these."""

    kind: QuoteKind
    asset: Asset
    rail: Rail
    pay: Money
    receive: Money
    fees: tuple[FeeLine, ...]
    margin: Money  # FX revenue (KES for buy/sell, zero crypto for send)
    margin_percent: Decimal
    ref_rate: Decimal  # KES per unit of crypto before the margin (zero for send)
    rate: Decimal  # KES per unit of crypto the customer gets (zero for send)
    liquidity_in: Money | None  # into FX liquidity, pay asset (buy: KES cost; sell: the crypto)
    liquidity_out: Money | None  # out of FX liquidity, receive asset (buy: crypto; sell: KES value)
    payout: Money | None = None  # sell via M-Pesa: the whole shillings sent
    change: Money | None = None  # sell via M-Pesa: the cents left in the KES wallet

    @property
    def fee_asset(self) -> Asset:
        return self.asset if self.kind is QuoteKind.SEND else Asset.KES

    @property
    def fee_total(self) -> Money:
        total = Money.zero(self.fee_asset)
        for line in self.fees:
            total = total + line.amount
        return total

    @property
    def paid_value(self) -> Money:
        """The pay side in the fee asset (the KES leg for buy/sell)."""
        if self.kind is QuoteKind.SELL:
            assert self.liquidity_out is not None
            return self.liquidity_out
        return self.pay

    @property
    def received_value(self) -> Money:
        """The receive side in the fee asset (the KES leg for buy/sell)."""
        if self.kind is QuoteKind.BUY:
            assert self.liquidity_in is not None
            return self.liquidity_in
        return self.receive


def compute_quote(request: QuoteRequest, *, rate: Rate | None, schedule: FeeSchedule) -> QuoteTerms:
    """Price a request. `rate` is the crypto/KES rate (unused for send). Raises on bad input."""
    _check_request(request)
    with decimal.localcontext(_CTX):
        forward = _Forward(request, rate, schedule)
        if request.given is Given.PAY:
            return forward(request.amount)
        return _solve_receive(request, forward, schedule)


def _check_request(request: QuoteRequest) -> None:
    if not request.asset.is_crypto:
        raise UnsupportedQuote("quotes are for BTC, USDT-ERC20 or USDT-TRC20")
    expected = request.pay_asset if request.given is Given.PAY else request.receive_asset
    if request.amount.asset is not expected:
        raise UnsupportedQuote(
            f"a {request.kind.value} amount to {request.given.value} is in {expected.value}, "
            f"not {request.amount.asset.value}"
        )
    if not request.amount.is_positive():
        raise AmountTooSmall("amount must be more than zero")
    if request.chain_fee is not None and request.chain_fee.asset is not request.asset:
        raise UnsupportedQuote("the network fee must be in the asset sent")


class _Forward:
    """A forward quote (pay amount -> terms) for one request; callable."""

    def __init__(self, request: QuoteRequest, rate: Rate | None, schedule: FeeSchedule) -> None:
        self.request = request
        self.schedule = schedule
        if request.kind is QuoteKind.SEND:
            self.ref = Decimal(0)
            self.margin_pct = Decimal(0)
            self.rate = Decimal(0)
            return
        if rate is None:
            raise UnsupportedQuote("a rate is needed to quote a buy or a sell")
        if rate.base != request.asset.currency or rate.quote != "KES":
            raise UnsupportedQuote(f"rate {rate.pair} does not price {request.asset.value}/KES")
        buying = request.kind is QuoteKind.BUY
        self.ref = rate.for_side(Side.BUY if buying else Side.SELL)
        self.margin_pct = schedule.margin_percent(buying=buying)
        factor = self.margin_pct / HUNDRED
        self.rate = self.ref * (1 + factor) if buying else self.ref * (1 - factor)
        if self.ref <= 0 or self.rate <= 0:
            raise UnsupportedQuote(f"rate {rate.pair} is not positive")

    def __call__(self, pay: Money) -> QuoteTerms:
        kind = self.request.kind
        if kind is QuoteKind.BUY:
            return self._buy(pay)
        if kind is QuoteKind.SELL:
            return self._sell(pay)
        return self._send(pay)

    def _terms(self, **kwargs: object) -> QuoteTerms:
        return QuoteTerms(
            kind=self.request.kind,
            asset=self.request.asset,
            rail=self.request.rail,
            margin_percent=self.margin_pct,
            ref_rate=self.ref,
            rate=self.rate,
            **kwargs,  # type: ignore[arg-type]
        )

    def _buy(self, pay: Money) -> QuoteTerms:
        _check_kes_in(pay, self.request.rail)
        asset = self.request.asset
        fees: tuple[FeeLine, ...] = ()
        if self.request.rail is Rail.PESAPAL:  # the rail's cost, from the fee schedule
            fees = (FeeLine("pesapal", self.schedule.pesapal.apply(pay)),)
        spent = pay
        for line in fees:
            spent = spent - line.amount
        receive = Money.round_down(spent.amount / self.rate, asset)
        if not receive.is_positive():
            raise AmountTooSmall(f"{pay} buys less than the smallest unit of {asset.value}")
        cost = Money.round_up(receive.amount * self.ref, Asset.KES)
        return self._terms(
            pay=pay,
            receive=receive,
            fees=fees,
            margin=spent - cost,
            liquidity_in=cost,
            liquidity_out=receive,
        )

    def _sell(self, pay: Money) -> QuoteTerms:
        gross = Money.round_down(pay.amount * self.rate, Asset.KES)
        value = Money.round_down(pay.amount * self.ref, Asset.KES)
        fees: tuple[FeeLine, ...] = ()
        receive = gross
        payout = change = None
        if self.request.rail is Rail.MPESA:
            fee = self.schedule.mpesa.apply(gross)
            fees = (FeeLine("mpesa", fee),)
            receive = gross - fee
            payout = receive.whole_units()
            change = receive - payout
            _check_kes_out(payout)
        elif receive.amount > WALLET_MAX_KES:
            raise AmountTooLarge(f"at most KES {WALLET_MAX_KES:,} per quote")
        if not receive.is_positive():
            raise AmountTooSmall(f"{pay} is worth less than the fees")
        return self._terms(
            pay=pay,
            receive=receive,
            fees=fees,
            margin=value - gross,
            liquidity_in=pay,
            liquidity_out=value,
            payout=payout,
            change=change,
        )

    def _send(self, pay: Money) -> QuoteTerms:
        fees = [FeeLine("withdrawal", self.schedule.withdrawal.apply(pay))]
        if self.request.chain_fee is not None:
            fees.append(FeeLine("network", self.schedule.network_fee(self.request.chain_fee)))
        receive = pay
        for line in fees:
            receive = receive - line.amount
        if not receive.is_positive():
            raise AmountTooSmall(f"{pay} does not cover the fees")
        return self._terms(
            pay=pay,
            receive=receive,
            fees=tuple(fees),
            margin=Money.zero(pay.asset),
            liquidity_in=None,
            liquidity_out=None,
        )


def _check_kes_in(pay: Money, rail: Rail) -> None:
    if rail in MOBILE_RAILS:
        if pay.amount != pay.amount.to_integral_value():
            raise AmountTooSmall("M-Pesa moves whole shillings: enter an amount without cents")
        if pay.amount < MPESA_MIN:
            raise AmountTooSmall(f"the M-Pesa minimum is KES {MPESA_MIN}")
        if pay.amount > MPESA_MAX:
            raise AmountTooLarge(f"the M-Pesa maximum is KES {MPESA_MAX:,}")
    elif pay.amount > WALLET_MAX_KES:
        raise AmountTooLarge(f"at most KES {WALLET_MAX_KES:,} per quote")


def _check_kes_out(payout: Money) -> None:
    if payout.amount < MPESA_MIN:
        raise AmountTooSmall(f"the M-Pesa minimum payout is KES {MPESA_MIN}")
    if payout.amount > MPESA_MAX:
        raise AmountTooLarge(f"the M-Pesa maximum payout is KES {MPESA_MAX:,}")


def _pay_unit(request: QuoteRequest) -> Decimal:
    if request.kind is QuoteKind.BUY and request.rail in MOBILE_RAILS:
        return ONE_SHILLING
    return request.pay_asset.quantum


def _estimate(request: QuoteRequest, forward: _Forward, schedule: FeeSchedule) -> Decimal:
    """An analytic first guess of the pay amount for a receive-amount request."""
    target = request.amount.amount
    if request.kind is QuoteKind.BUY:
        return target * forward.rate
    if request.kind is QuoteKind.SELL:
        fee = schedule.mpesa.fixed if request.rail is Rail.MPESA else Decimal(0)
        pct = schedule.mpesa.percent if request.rail is Rail.MPESA else Decimal(0)
        return (target + fee) / (1 - pct / HUNDRED) / forward.rate
    network = schedule.network_fee(request.chain_fee).amount if request.chain_fee else Decimal(0)
    return (target + schedule.withdrawal.fixed + network) / (1 - schedule.withdrawal.percent / HUNDRED)


def _delivers(forward: _Forward, pay: Decimal, target: Money) -> QuoteTerms | None:
    if pay <= 0:
        return None
    try:
        terms = forward(Money(pay, forward.request.pay_asset))
    except AmountTooSmall:
        return None
    return terms if terms.receive >= target else None


def _solve_receive(request: QuoteRequest, forward: _Forward, schedule: FeeSchedule) -> QuoteTerms:
    """The smallest pay amount (in whole pay units) whose forward quote delivers the target.

    Galloping search around the analytic estimate, then bisection: a handful of forward quotes when
    the estimate is close (the usual case), O(log n) when caps or minimums make it far off.
    """
    unit = _pay_unit(request)
    estimate = int((_estimate(request, forward, schedule) / unit).to_integral_value(decimal.ROUND_CEILING))

    def attempt(units: int) -> QuoteTerms | None:
        return _delivers(forward, (Decimal(units) * unit).quantize(request.pay_asset.quantum), request.amount)

    high = max(estimate, 1)
    found = attempt(high)
    if found is None:  # gallop up until it delivers (AmountTooLarge ends the search)
        low, step = high, 1
        while found is None:
            low, high = high, high + step
            if high > MAX_UNITS:
                raise AmountTooLarge(f"cannot deliver {request.amount}")
            step *= 2
            found = attempt(high)
    else:  # gallop down until it no longer delivers
        low, step = high, 1
        while low > 1:
            low = max(low - step, 1)
            step *= 2
            smaller = attempt(low)
            if smaller is None:
                break
            high, found = low, smaller
        else:
            return found  # even one unit delivers
    while high - low > 1:  # invariant: attempt(low) is None, attempt(high) delivers
        middle = (low + high) // 2
        candidate = attempt(middle)
        if candidate is None:
            low = middle
        else:
            high, found = middle, candidate
    return found
