"""Quote maths across sizes with exact numbers, bad input, and the paid = received + fees + margin law."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.fees.schedule import FeeRule, FeeSchedule
from core.fx.rates import Rate
from core.money import Asset, Money
from core.quotes.errors import AmountTooLarge, AmountTooSmall, UnsupportedQuote
from core.quotes.maths import Given, QuoteKind, QuoteRequest, Rail, compute_quote

NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
USDT = Rate("USDT", "KES", Decimal("129.5"), Decimal("129.5"), NOW, "demo")
BTC = Rate("BTC", "KES", Decimal("12302500"), Decimal("12302500"), NOW, "demo")
DEFAULTS = FeeSchedule()


def kes(text: str) -> Money:
    return Money.of(text, Asset.KES)


def quote(kind: QuoteKind, asset: Asset, amount: Money, **kwargs: object):
    rate = BTC if asset is Asset.BTC else USDT
    request = QuoteRequest(kind, asset, amount, **kwargs)  # type: ignore[arg-type]
    return compute_quote(request, rate=rate, schedule=DEFAULTS)


def test_buy_1000_kes_of_usdt() -> None:
    terms = quote(QuoteKind.BUY, Asset.USDT_TRC20, kes("1000"))
    assert terms.rate == Decimal("130.1475")
    assert terms.receive == Money.of("7.683589", Asset.USDT_TRC20)
    assert terms.liquidity_in == kes("995.03")  # 7.683589 x 129.5 = 995.0247755, rounded up
    assert terms.margin == kes("4.97")
    assert terms.fees == ()


def test_buy_at_the_mpesa_minimum() -> None:
    terms = quote(QuoteKind.BUY, Asset.USDT_TRC20, kes("10"))
    assert terms.receive == Money.of("0.076835", Asset.USDT_TRC20)
    assert terms.margin == kes("0.04")
    assert terms.liquidity_in == kes("9.96")


def test_buy_at_the_mpesa_maximum() -> None:
    terms = quote(QuoteKind.BUY, Asset.USDT_ERC20, kes("250000"))
    assert terms.receive == Money.of("1920.897443", Asset.USDT_ERC20)
    assert terms.margin == kes("1243.78")
    with pytest.raises(AmountTooLarge):
        quote(QuoteKind.BUY, Asset.USDT_ERC20, kes("250001"))


def test_one_shilling_is_below_the_mpesa_minimum_but_fine_from_the_wallet() -> None:
    with pytest.raises(AmountTooSmall):
        quote(QuoteKind.BUY, Asset.USDT_TRC20, kes("1"))
    terms = quote(QuoteKind.BUY, Asset.USDT_TRC20, kes("1"), rail=Rail.WALLET)
    assert terms.receive == Money.of("0.007683", Asset.USDT_TRC20)
    assert terms.liquidity_in == kes("1.00")  # 0.007683 x 129.5 = 0.9949485 -> 1.00
    assert terms.margin == kes("0.00")


def test_mpesa_needs_whole_shillings() -> None:
    with pytest.raises(AmountTooSmall, match="whole shillings"):
        quote(QuoteKind.BUY, Asset.BTC, kes("100.50"))


def test_buy_btc_at_the_minimum_is_dust() -> None:
    terms = quote(QuoteKind.BUY, Asset.BTC, kes("10"))
    assert terms.rate == Decimal("12364012.5")
    assert terms.receive == Money.from_minor(80, Asset.BTC)  # 10 / 12364012.5 = 80.88 sat
    assert terms.liquidity_in == kes("9.85")  # 80 sat x 12302500 = 9.842, rounded up
    assert terms.margin == kes("0.15")


def test_sell_btc_dust_to_mpesa() -> None:
    terms = quote(QuoteKind.SELL, Asset.BTC, Money.from_minor(1000, Asset.BTC))
    # 0.00001 BTC x 12302500 x 0.995 = 122.409875 -> 122.40; value at the bid 123.025 -> 123.02
    assert terms.liquidity_out == kes("123.02")
    assert terms.fees[0].amount == kes("30.00")
    assert terms.receive == kes("92.40")
    assert terms.payout == kes("92")
    assert terms.change == kes("0.40")  # the cents stay in the customer's KES wallet
    assert terms.margin == kes("0.62")
    with pytest.raises(AmountTooSmall):
        quote(QuoteKind.SELL, Asset.BTC, Money.from_minor(1, Asset.BTC))


def test_sell_to_receive_exact_shillings() -> None:
    terms = quote(QuoteKind.SELL, Asset.USDT_TRC20, kes("1000"), given=Given.RECEIVE)
    assert terms.pay == Money.of("7.993637", Asset.USDT_TRC20)
    assert terms.receive == kes("1000.00")
    assert terms.payout == kes("1000")
    assert terms.margin == kes("5.17")
    one_unit_less = quote(QuoteKind.SELL, Asset.USDT_TRC20, Money.of("7.993636", Asset.USDT_TRC20))
    assert one_unit_less.receive < kes("1000")


def test_buy_to_receive_uses_the_smallest_whole_shilling_amount() -> None:
    wanted = Money.of("7.68", Asset.USDT_TRC20)
    terms = quote(QuoteKind.BUY, Asset.USDT_TRC20, wanted, given=Given.RECEIVE)
    assert terms.pay == kes("1000")
    assert terms.receive >= wanted
    assert quote(QuoteKind.BUY, Asset.USDT_TRC20, kes("999")).receive < wanted


def test_send_with_withdrawal_and_network_fee() -> None:
    usdt = Asset.USDT_TRC20
    terms = quote(QuoteKind.SEND, usdt, Money.of("10", usdt), chain_fee=Money.of("1.1", usdt))
    assert [line.kind for line in terms.fees] == ["withdrawal", "network"]
    assert terms.fee_total == Money.of("1.15", usdt)
    assert terms.receive == Money.of("8.85", usdt)
    dust = quote(QuoteKind.SEND, Asset.BTC, Money.from_minor(1000, Asset.BTC))
    assert dust.fees[0].amount == Money.from_minor(5, Asset.BTC)
    with pytest.raises(AmountTooSmall):
        quote(QuoteKind.SEND, Asset.BTC, Money.from_minor(1, Asset.BTC))  # 1 sat fee eats 1 sat


def test_disagreeing_sources_price_each_side_conservatively() -> None:
    wide = Rate("USDT", "KES", Decimal("128"), Decimal("131"), NOW, "a+b")
    buy = compute_quote(
        QuoteRequest(QuoteKind.BUY, Asset.USDT_TRC20, kes("1000")), rate=wide, schedule=DEFAULTS
    )
    sell = compute_quote(
        QuoteRequest(QuoteKind.SELL, Asset.USDT_TRC20, Money.of("10", Asset.USDT_TRC20)),
        rate=wide,
        schedule=DEFAULTS,
    )
    assert buy.ref_rate == Decimal("131")
    assert sell.ref_rate == Decimal("128")


@pytest.mark.parametrize(
    ("kind", "asset", "amount", "error"),
    [
        (QuoteKind.BUY, Asset.USDT_TRC20, Money.zero(Asset.KES), AmountTooSmall),
        (QuoteKind.BUY, Asset.USDT_TRC20, Money.of("-5", Asset.KES), AmountTooSmall),
        (QuoteKind.BUY, Asset.KES, Money.of("100", Asset.KES), UnsupportedQuote),
        (QuoteKind.BUY, Asset.USDT_TRC20, Money.of("100", Asset.BTC), UnsupportedQuote),
        (QuoteKind.SELL, Asset.USDT_TRC20, Money.of("99999999", Asset.USDT_TRC20), AmountTooLarge),
        (QuoteKind.BUY, Asset.BTC, Money.of("10", Asset.KES), UnsupportedQuote),  # USDT rate for BTC
    ],
)
def test_bad_input_is_refused_clearly(kind, asset, amount, error) -> None:
    request = QuoteRequest(kind, asset, amount)
    with pytest.raises(error):
        compute_quote(request, rate=USDT, schedule=DEFAULTS)


# --- the law: paid = received + fees + margin, exactly, in minor units --------------------------

percents = st.decimals(min_value=0, max_value=5, places=2)
rules = st.builds(
    FeeRule,
    percent=percents,
    fixed=st.decimals(min_value=0, max_value=50, places=2),
    minimum=st.none() | st.decimals(min_value=0, max_value=40, places=2),
    maximum=st.none() | st.decimals(min_value=40, max_value=500, places=2),
)
schedules = st.builds(
    FeeSchedule,
    fx_margin_buy=percents,
    fx_margin_sell=percents,
    withdrawal=st.builds(FeeRule, percent=percents),
    mpesa=rules,
)
rates = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("20000000"), places=4)
assets = st.sampled_from([Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20])


def _check_law(terms) -> None:
    assert terms.paid_value.minor == terms.received_value.minor + terms.fee_total.minor + terms.margin.minor
    assert terms.margin.minor >= 0
    if terms.payout is not None:
        assert terms.payout.minor + terms.change.minor == terms.receive.minor
        assert terms.payout.amount == terms.payout.amount.to_integral_value()


@settings(max_examples=300, deadline=None)
@given(
    asset=assets,
    rate=rates,
    schedule=schedules,
    shillings=st.integers(min_value=1, max_value=300_000),
    rail=st.sampled_from(list(Rail)),
    receive_mode=st.booleans(),
)
def test_buy_law(asset, rate, schedule, shillings, rail, receive_mode) -> None:
    quote_rate = Rate(asset.currency, "KES", rate, rate, NOW, "test")
    if receive_mode:
        amount = Money.round_down(Decimal(shillings) / rate, asset)
        request = QuoteRequest(QuoteKind.BUY, asset, amount, given=Given.RECEIVE, rail=rail)
    else:
        request = QuoteRequest(QuoteKind.BUY, asset, Money.of(shillings, Asset.KES), rail=rail)
    try:
        terms = compute_quote(request, rate=quote_rate, schedule=schedule)
    except (AmountTooSmall, AmountTooLarge):
        return
    _check_law(terms)
    if receive_mode:
        assert terms.receive >= request.amount


@settings(max_examples=300, deadline=None)
@given(
    asset=assets,
    rate=rates,
    schedule=schedules,
    minor=st.integers(min_value=1, max_value=10**12),
    rail=st.sampled_from(list(Rail)),
)
def test_sell_law(asset, rate, schedule, minor, rail) -> None:
    quote_rate = Rate(asset.currency, "KES", rate, rate, NOW, "test")
    request = QuoteRequest(QuoteKind.SELL, asset, Money.from_minor(minor, asset), rail=rail)
    try:
        terms = compute_quote(request, rate=quote_rate, schedule=schedule)
    except (AmountTooSmall, AmountTooLarge):
        return
    _check_law(terms)
    assert terms.liquidity_in == terms.pay


@settings(max_examples=200, deadline=None)
@given(
    asset=assets,
    schedule=schedules,
    minor=st.integers(min_value=1, max_value=10**12),
    chain_minor=st.integers(min_value=0, max_value=10**6),
)
def test_send_law(asset, schedule, minor, chain_minor) -> None:
    request = QuoteRequest(
        QuoteKind.SEND, asset, Money.from_minor(minor, asset), chain_fee=Money.from_minor(chain_minor, asset)
    )
    try:
        terms = compute_quote(request, rate=None, schedule=schedule)
    except AmountTooSmall:
        return
    _check_law(terms)


@settings(max_examples=200, deadline=None)
@given(
    asset=assets,
    rate=rates,
    schedule=schedules,
    receive=st.integers(min_value=1, max_value=300_000),
    rail=st.sampled_from(list(Rail)),
)
def test_sell_receive_mode_law_and_minimality(asset, rate, schedule, receive, rail) -> None:
    quote_rate = Rate(asset.currency, "KES", rate, rate, NOW, "test")
    wanted = Money.of(receive, Asset.KES)
    request = QuoteRequest(QuoteKind.SELL, asset, wanted, given=Given.RECEIVE, rail=rail)
    try:
        terms = compute_quote(request, rate=quote_rate, schedule=schedule)
    except (AmountTooSmall, AmountTooLarge):
        return
    _check_law(terms)
    assert terms.receive >= wanted
    smaller = QuoteRequest(QuoteKind.SELL, asset, terms.pay - Money.from_minor(1, asset), rail=rail)
    with contextlib.suppress(AmountTooSmall, AmountTooLarge):
        assert compute_quote(smaller, rate=quote_rate, schedule=schedule).receive < wanted


@settings(max_examples=200, deadline=None)
@given(asset=assets, schedule=schedules, minor=st.integers(min_value=1, max_value=10**12))
def test_send_receive_mode_law(asset, schedule, minor) -> None:
    wanted = Money.from_minor(minor, asset)
    request = QuoteRequest(QuoteKind.SEND, asset, wanted, given=Given.RECEIVE)
    terms = compute_quote(request, rate=None, schedule=schedule)
    _check_law(terms)
    assert terms.receive >= wanted
