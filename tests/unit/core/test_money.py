"""Money: exact construction, strict parsing, quantisation, currency safety, Babel formatting."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import CurrencyMismatch, InvalidAmount
from core.money import Asset, Money, format_money, parse_amount


@pytest.mark.parametrize(
    ("text", "asset", "minor"),
    [
        ("1,500", Asset.KES, 150000),
        ("1500.50", Asset.KES, 150050),
        ("1,234,567.89", Asset.KES, 123456789),
        ("0.0005", Asset.BTC, 50000),
        ("0.00000001", Asset.BTC, 1),
        ("12.345678", Asset.USDT_TRC20, 12345678),
        (" 10 ", Asset.KES, 1000),
        (".5", Asset.KES, 50),
    ],
)
def test_parse_accepts_what_people_type(text, asset, minor):
    assert parse_amount(text, asset).minor == minor


@pytest.mark.parametrize(
    ("text", "asset", "message"),
    [
        ("", Asset.KES, "enter an amount"),
        ("0", Asset.KES, "more than zero"),
        ("0.00", Asset.KES, "more than zero"),
        ("-5", Asset.KES, "more than zero"),
        ("1.001", Asset.KES, "at most 2 decimal places"),
        ("0.000000001", Asset.BTC, "at most 8 decimal places"),
        ("1.0000001", Asset.USDT_ERC20, "at most 6 decimal places"),
        ("1,50", Asset.KES, "not an amount"),
        ("15,00,000", Asset.KES, "not an amount"),
        ("1e5", Asset.KES, "not an amount"),
        ("NaN", Asset.KES, "not an amount"),
        ("12abc", Asset.KES, "not an amount"),
        ("1.2.3", Asset.KES, "not an amount"),
        ("9" * 30, Asset.KES, "too large"),
    ],
)
def test_parse_refuses_with_a_clear_message(text, asset, message):
    with pytest.raises(InvalidAmount, match=message):
        parse_amount(text, asset)


def test_mixing_assets_is_an_error():
    with pytest.raises(CurrencyMismatch):
        Money.of("1", Asset.USDT_ERC20) + Money.of("1", Asset.USDT_TRC20)
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("1", Asset.KES) < Money.of("1", Asset.BTC)


def test_floats_are_refused():
    with pytest.raises(TypeError):
        Money.of(0.1, Asset.KES)  # type: ignore[arg-type]


def test_explicit_rounding_and_whole_shillings():
    assert Money.round_down(Decimal("10.999"), Asset.KES).minor == 1099
    assert Money.round_up(Decimal("10.991"), Asset.KES).minor == 1100
    assert Money.quantize(Decimal("10.005"), Asset.KES, rounding=ROUND_HALF_UP).minor == 1001
    assert Money.of("1234.56", Asset.KES).whole_units() == Money.of("1234", Asset.KES)


@pytest.mark.parametrize(
    ("money", "language", "expected"),
    [
        (Money.of("1500.5", Asset.KES), "en", "KES 1,500.50"),
        (Money.of("1500.5", Asset.KES), "sw", "KES 1,500.50"),
        (Money.of("0.00012", Asset.BTC), "en", "BTC 0.00012"),
        (Money.of("0.00000001", Asset.BTC), "sw", "BTC 0.00000001"),
        (Money.of("25", Asset.USDT_TRC20), "en", "USDT 25.00"),
        (Money.of("1234567.123456", Asset.USDT_ERC20), "en", "USDT 1,234,567.123456"),
    ],
)
def test_formatting_keeps_every_minor_unit(money, language, expected):
    assert format_money(money, language) == expected


@given(minor=st.integers(min_value=1, max_value=10**15), asset=st.sampled_from(list(Asset)))
def test_minor_units_round_trip_through_text(minor, asset):
    money = Money.from_minor(minor, asset)
    assert money.minor == minor
    assert parse_amount(f"{money.amount:f}", asset) == money
    assert parse_amount(format_money(money, "en", with_code=False), asset) == money
