"""The house format for amounts (core.money.format_money), the one USSD, SMS, Telegram and the web
portals write: the code first, the number in en_KE / sw_KE grouping, trailing zeros dropped (at least
two places), or every decimal of the scale for an amount to pay. Formatting never changes the value:
the number parses back to the very Decimal it came from."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import parse_decimal
from hypothesis import given
from hypothesis import strategies as st

from core.money import Asset, Money, format_money
from webapp.web import i18n
from webapp.web.templating import Formatter

LOCALES = {"en": "en_KE", "sw": "sw_KE"}
minors = st.integers(min_value=-(10**18), max_value=10**18)
languages = st.sampled_from(sorted(LOCALES))


def _parse(text: str, language: str) -> tuple[str, Decimal, str]:
    code, number = text.split(" ", 1)
    return code, parse_decimal(number, locale=LOCALES[language], strict=True), number


@given(
    minor=minors,
    asset=st.sampled_from(list(Asset)),
    language=languages,
    exact=st.booleans(),
    network=st.booleans(),
)
def test_formatting_never_changes_the_value(
    minor: int, asset: Asset, language: str, exact: bool, network: bool
) -> None:
    money = Money.from_minor(minor, asset)
    code, value, number = _parse(format_money(money, language, exact=exact, network=network), language)
    assert value == money.amount  # the same Decimal: nothing rounded away, nothing added
    assert code == (asset.value if network else asset.currency)  # the asset first
    decimals = len(number.rpartition(".")[2])
    if exact or asset is Asset.KES:
        assert decimals == asset.scale  # an amount to pay: the full scale ("BTC 0.00030000")
    else:  # as few places as the value needs, at least two ("BTC 0.0003", "BTC 1.00")
        assert decimals == max(2, -int(money.amount.normalize().as_tuple().exponent))
        assert decimals == 2 or not number.endswith("0")  # trailing zeros dropped past two places


@given(
    value=st.decimals(min_value=Decimal(-(10**12)), max_value=Decimal(10**12), places=12, allow_nan=False),
    asset=st.sampled_from(list(Asset)),
    language=languages,
    exact=st.booleans(),
)
def test_more_decimals_than_the_scale_are_shown_not_rounded(
    value: Decimal, asset: Asset, language: str, exact: bool
) -> None:
    """A computed amount (a KES value at a rate) may carry more places than its asset: all are shown."""
    _code, parsed, _number = _parse(format_money(Money(value, asset), language, exact=exact), language)
    assert parsed == value


@given(minor=minors, asset=st.sampled_from(list(Asset)), language=languages, exact=st.booleans())
def test_the_web_portals_write_the_house_format(minor: int, asset: Asset, language: str, exact: bool) -> None:
    money = Money.from_minor(minor, asset)
    shown = i18n.money(money, language, exact=exact)
    assert shown == format_money(money, language, exact=exact, network=True)
    assert Formatter(language).money(minor, asset.value) == format_money(money, language, network=True)
    assert _parse(shown, language)[1] == money.amount


@pytest.mark.parametrize(
    ("money", "exact", "expected"),
    [
        (Money.of("0.0003", Asset.BTC), False, "BTC 0.0003"),
        (Money.of("0.0003", Asset.BTC), True, "BTC 0.00030000"),
        (Money.of("1", Asset.BTC), False, "BTC 1.00"),
        (Money.of("1234.5", Asset.USDT_TRC20), False, "USDT-TRC20 1,234.50"),
        (Money.of("19.30502", Asset.USDT_ERC20), True, "USDT-ERC20 19.305020"),
        (Money.of("2500", Asset.KES), False, "KES 2,500.00"),
    ],
)
def test_the_web_shows_the_code_first_never_the_old_full_scale_suffix(
    money: Money, exact: bool, expected: str
) -> None:
    """The portals wrote "0.00030000 BTC" while USSD, SMS and Telegram wrote "BTC 0.0003"."""
    for language in LOCALES:
        assert i18n.money(money, language, exact=exact) == expected
