"""The compact quote text fits one USSD screen (<= 160 characters) in English and Swahili."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.fees.schedule import FeeSchedule
from core.fx.rates import Rate
from core.money import Asset, Money
from core.quotes.errors import AmountTooLarge, AmountTooSmall
from core.quotes.maths import QuoteKind, QuoteRequest, compute_quote
from core.quotes.text import MAX_SCREEN, RATES_UNAVAILABLE, compact_text, describe

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_buy_text_in_both_languages() -> None:
    rate = Rate("USDT", "KES", Decimal("129.5"), Decimal("129.5"), NOW, "demo")
    terms = compute_quote(
        QuoteRequest(QuoteKind.BUY, Asset.USDT_TRC20, Money.of(1000, Asset.KES)),
        rate=rate,
        schedule=FeeSchedule(),
    )
    assert compact_text(terms, "en", demo=True) == (
        "Buy USDT: Pay KES 1,000.00, get USDT 7.683589. 1 USDT=KES 130.15. Fee KES 0.00. Valid 60s. DEMO rate"
    )
    assert compact_text(terms, "sw") == (
        "Nunua USDT: Lipa KES 1,000.00, pata USDT 7.683589. 1 USDT=KES 130.15. Ada KES 0.00. Sek 60"
    )
    assert compact_text(terms, "sw", demo=True) == (  # MAJARIBIO: the house word for demo in Swahili
        "Nunua USDT: Lipa KES 1,000.00, pata USDT 7.683589. 1 USDT=KES 130.15. Ada KES 0.00. Sek 60. "
        "Bei ya MAJARIBIO"
    )
    assert any("DEMO" in line for line in describe(terms, demo=True))
    assert set(RATES_UNAVAILABLE) == {"en", "sw"}


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(list(QuoteKind)),
    asset=st.sampled_from([Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20]),
    minor=st.integers(min_value=1, max_value=10**15),
    rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999"), places=2),
    language=st.sampled_from(["en", "sw"]),
    demo=st.booleans(),
)
def test_compact_text_always_fits_one_screen(kind, asset, minor, rate, language, demo) -> None:
    pay_asset = Asset.KES if kind is QuoteKind.BUY else asset
    request = QuoteRequest(kind, asset, Money.from_minor(minor, pay_asset), chain_fee=None)
    quote_rate = Rate(asset.currency, "KES", rate, rate, NOW, "t")
    try:
        terms = compute_quote(request, rate=quote_rate, schedule=FeeSchedule())
    except (AmountTooSmall, AmountTooLarge):
        return
    text = compact_text(terms, language, demo=demo)
    assert len(text) <= MAX_SCREEN
    assert format(terms.receive.amount, "f").rstrip("0").rstrip(".")[:3] in text.replace(",", "")
    if demo:
        assert ("DEMO" if language == "en" else "MAJARIBIO") in text
