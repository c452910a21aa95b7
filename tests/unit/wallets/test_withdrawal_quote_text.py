"""A withdrawal quote shows its network fee (issue 11 item 2): on one screen (USSD, SMS) in both
languages within 160 characters, in the full description, and in the CLI's line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.fees.schedule import FeeSchedule
from core.flows.types import QuoteView
from core.flows.withdrawals import withdrawal_quote_text
from core.money import Asset, Money
from core.quotes.maths import Given, QuoteKind, QuoteRequest, QuoteTerms, Rail, compute_quote
from core.quotes.text import MAX_SCREEN, compact_text, describe

USDT = Asset.USDT_ERC20


def _terms(pay: str, network: str) -> QuoteTerms:
    request = QuoteRequest(
        kind=QuoteKind.SEND, asset=USDT, amount=Money.of(pay, USDT), given=Given.PAY, rail=Rail.WALLET,
        chain_fee=Money.of(network, USDT),
    )  # fmt: skip
    return compute_quote(request, rate=None, schedule=FeeSchedule())


@pytest.mark.parametrize(("language", "word"), [("en", "network"), ("sw", "mtandao")])
def test_the_screen_shows_the_network_fee(language: str, word: str) -> None:
    terms = _terms("999999.999999", "3.9")
    text = compact_text(terms, language)
    assert f"{word} USDT" in text and "3.90" in text and len(text) <= MAX_SCREEN, text
    assert any("network" in line and "3.90" in line for line in describe(terms))


def test_the_cli_line_splits_the_fees() -> None:
    quote = QuoteView(
        id="1", kind="send", pay=Money.of(10, USDT), receive=Money.of("6.05", USDT), fee=Money.of("3.95", USDT),
        rate="", valid_seconds=60, expires_at=datetime(2026, 12, 5, tzinfo=UTC), network_fee=Money.of("3.9", USDT),
    )  # fmt: skip
    line = withdrawal_quote_text(quote, address="0xabc", network="Ethereum (USDT-ERC20)")
    assert "withdrawal fee" in line and "0.05" in line
    assert "network fee" in line and "3.90" in line and "6.05" in line


def test_the_estimator_prices_transfers_from_the_senders_hot_wallets() -> None:
    from wallets.erc20 import sender as erc20
    from wallets.trc20 import sender as trc20
    from wallets.withdrawals import fees

    assert (fees.HOT_WALLET_CHAIN, fees.HOT_WALLET_INDEX) == (erc20.HOT_WALLET_CHAIN, erc20.HOT_WALLET_INDEX)
    assert (fees.HOT_WALLET_CHAIN, fees.HOT_WALLET_INDEX) == (trc20.HOT_WALLET_CHAIN, trc20.HOT_WALLET_INDEX)
    assert fees.GAS_LIMIT_MARGIN_PERCENT == erc20.GAS_LIMIT_MARGIN_PERCENT


@settings(max_examples=200, deadline=None)
@given(
    asset=st.sampled_from([Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20]),
    pay_units=st.integers(1, 10**12),
    fee_units=st.integers(1, 10**8),
    percent=st.sampled_from(["100", "50", "33.3", "0"]),
)
def test_a_withdrawal_quote_holds_every_fee_exactly(
    asset: Asset, pay_units: int, fee_units: int, percent: str
) -> None:
    from decimal import Decimal

    from core.quotes.errors import AmountTooSmall

    pay, estimate = Money.from_minor(pay_units, asset), Money.from_minor(fee_units, asset)
    schedule = FeeSchedule(network_percent=Decimal(percent))
    request = QuoteRequest(
        kind=QuoteKind.SEND, asset=asset, amount=pay, given=Given.PAY, rail=Rail.WALLET, chain_fee=estimate
    )
    try:
        terms = compute_quote(request, rate=None, schedule=schedule)
    except AmountTooSmall:
        assert schedule.withdrawal.apply(pay) + schedule.network_fee(estimate) >= pay
        return
    lines = {line.kind: line.amount for line in terms.fees}
    assert lines["network"] == schedule.network_fee(estimate)  # passed on per the schedule, rounded up
    assert lines["network"].amount >= estimate.amount * Decimal(percent) / 100
    assert terms.pay == terms.receive + terms.fee_total and terms.receive.is_positive()


def test_btc_quotes_count_the_inputs_custody_needs() -> None:
    from decimal import Decimal

    from wallets.btc.fees import fee_sats, inputs_needed

    rate = Decimal("12.008")
    assert inputs_needed([400_000, 250_000], 200_000, rate) == 1
    assert inputs_needed([250_000, 100_000, 100_000], 300_000, rate) == 2
    assert inputs_needed([100_000] * 5, 400_000, rate) == 5
    assert inputs_needed([100_000], 100_000, rate) is None  # the fee does not fit: custody cannot pay
    assert inputs_needed([100_000, 200_000], 100_000 + fee_sats(rate, inputs=1, outputs=2), rate) == 1
