"""Provider parsing (Decimal only, clear errors for malformed answers), rates, policy, source wiring."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import Settings
from core.fx.errors import RateSourceError, RatesUnavailable
from core.fx.policy import FxPolicy
from core.fx.rates import Rate, Side
from core.fx.sources import (
    CoinGeckoSource,
    DemoRateSource,
    ExchangeRateApiSource,
    build_sources,
    parse_coingecko,
    parse_exchangerate_api,
)
from webapp.http_get import httpx_get

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_exchangerate_api_numbers_are_decimal_never_float() -> None:
    body = '{"result":"success","base_code":"USD","conversion_rates":{"KES":129.123456789012345678}}'
    [quote] = parse_exchangerate_api(body, "erapi")
    assert (quote.base, quote.quote, quote.source) == ("USD", "KES", "erapi")
    assert quote.rate == "129.123456789012345678"  # a float would have lost digits
    [as_string] = parse_exchangerate_api(
        '{"result":"success","base_code":"USD","conversion_rates":{"KES":"129.5"}}', "erapi"
    )
    assert Decimal(as_string.rate) == Decimal("129.5")


def test_coingecko_simple_price() -> None:
    quotes = parse_coingecko('{"bitcoin":{"usd":95123.45},"tether":{"usd":1.0002}}', "gecko")
    assert {(q.base, q.quote, q.rate) for q in quotes} == {
        ("BTC", "USD", "95123.45"),
        ("USDT", "USD", "1.0002"),
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<!DOCTYPE html><html><title>503 Service Unavailable</title></html>", "not JSON"),
        ("", "not JSON"),
        ('{"result":"error","error-type":"quota-reached"}', "not 'success'"),
        ('{"result":"success","base_code":"USD"}', "conversion_rates"),
        ('{"result":"success","base_code":"USD","conversion_rates":{}}', "'KES'"),
        ('{"result":"success","base_code":"USD","conversion_rates":{"KES":"abc"}}', "not a number"),
        ('{"result":"success","base_code":"USD","conversion_rates":{"KES":true}}', "not a number"),
        ('{"result":"success","base_code":"USD","conversion_rates":{"KES":0}}', "not a positive"),
        ('{"result":"success","base_code":"USD","conversion_rates":{"KES":"NaN"}}', "not a positive"),
        ('{"result":"success","base_code":"USD","conversion_rates":{"KES":null}}', "not a number"),
        ('["success"]', "no 'result'"),
    ],
)
def test_malformed_exchangerate_api_answers(body: str, message: str) -> None:
    with pytest.raises(RateSourceError, match=message):
        parse_exchangerate_api(body, "erapi")


@pytest.mark.parametrize(
    "body",
    ['{"bitcoin":{"usd":95000}}', '{"bitcoin":{"eur":1},"tether":{"usd":1}}', '{"bitcoin":{"usd":"x"},"tether":{}}',
     '{"bitcoin":95000,"tether":{"usd":1}}', "<html>rate limited</html>"],
)  # fmt: skip
def test_malformed_coingecko_answers(body: str) -> None:
    with pytest.raises(RateSourceError):
        parse_coingecko(body, "gecko")


@given(st.binary(max_size=200))
def test_garbage_never_crashes_the_parsers(body: bytes) -> None:
    for parse in (parse_exchangerate_api, parse_coingecko):
        with contextlib.suppress(RateSourceError):
            parse(body, "fuzz")


def test_staleness_and_conservative_sides() -> None:
    rate = Rate("USDT", "KES", Decimal("128"), Decimal("131"), NOW, "a+b")
    assert rate.for_side(Side.BUY) == Decimal("131") and rate.for_side(Side.SELL) == Decimal("128")
    assert rate.check_fresh(NOW + timedelta(minutes=5)) is rate
    with pytest.raises(RatesUnavailable):
        rate.check_fresh(NOW + timedelta(minutes=5, seconds=1))
    with pytest.raises(RatesUnavailable):
        rate.check_fresh(NOW + timedelta(seconds=31), timedelta(seconds=30))
    assert not rate.is_demo and Rate("BTC", "KES", Decimal(1), Decimal(1), NOW, "demo").is_demo


def test_policy_reads_settings_when_present() -> None:
    class Configured:
        fx_max_age_seconds = 120
        fx_disagreement_percent = "1.5"
        quote_ttl_seconds = 90

    policy = FxPolicy.from_settings(Configured())
    assert policy.max_age == timedelta(seconds=120)
    assert policy.disagreement_percent == Decimal("1.5")
    assert policy.quote_ttl == timedelta(seconds=90)
    assert FxPolicy.from_settings(object()) == FxPolicy()


def test_sources_from_settings_demo_by_default_and_ordered_when_configured() -> None:
    [demo] = build_sources(Settings(_env_file=None))
    assert isinstance(demo, DemoRateSource) and demo.name == "demo"
    settings = Settings(
        _env_file=None,
        fx_usd_kes_url="https://erapi.example/v6/{api_key}/latest/USD",
        fx_usd_kes_fallback_url="https://other.example/latest/USD",
        fx_crypto_url="https://api.coingecko.example",
        fx_api_key="sekret",
    )
    sources = build_sources(settings, get=httpx_get)
    assert [s.name for s in sources] == ["usd_kes", "usd_kes_fallback", "crypto"]
    assert isinstance(sources[0], ExchangeRateApiSource) and sources[0].url.endswith("/v6/sekret/latest/USD")
    assert isinstance(sources[2], CoinGeckoSource) and sources[2].url.endswith("/api/v3/simple/price")


def test_demo_source_is_fixed_and_labelled() -> None:
    quotes = asyncio.run(DemoRateSource().fetch())
    assert {(q.base, q.quote, q.rate, q.source) for q in quotes} == {
        ("USD", "KES", "129.50", "demo"), ("BTC", "USD", "95000", "demo"), ("USDT", "USD", "1.00", "demo"),
    }  # fmt: skip
