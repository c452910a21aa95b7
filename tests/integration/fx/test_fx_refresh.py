"""Refresh from real local HTTP providers: primary, fallback, slow, malformed, disagreement, staleness."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.clock import FixedClock
from core.fx import service as fx_service
from core.fx.errors import RatesUnavailable, UnknownPair
from core.fx.models import FxAlert, FxRate, RateKind
from core.fx.policy import FxPolicy
from core.fx.sources import CoinGeckoSource, DemoRateSource, ExchangeRateApiSource
from webapp.http_get import httpx_get

# Generous: these bound waits on a shared, busy machine; only the "slow" test waits them out.
POLICY = FxPolicy(source_timeout=30.0)
SLOW_POLICY = FxPolicy(source_timeout=5.0)  # the slow source hangs; the local others answer well within


def sources(provider, timeout=30.0):
    return [
        ExchangeRateApiSource(
            get=httpx_get, name="erapi", url=provider.url("/v6/KEY/latest/USD"), timeout=timeout
        ),
        ExchangeRateApiSource(
            get=httpx_get, name="erapi_fallback", url=provider.url("/fallback/latest/USD"), timeout=timeout
        ),
        CoinGeckoSource(get=httpx_get, name="gecko", url=provider.url("/"), timeout=timeout),
        CoinGeckoSource(
            get=httpx_get, name="gecko_fallback", url=provider.url("/fb/api/v3/simple/price"), timeout=timeout
        ),
    ]


def all_up(provider, usd_kes="129.5", fallback_usd_kes="129.6"):
    provider.usd_kes("/v6/KEY/latest/USD", usd_kes)
    provider.usd_kes("/fallback/latest/USD", fallback_usd_kes)
    provider.crypto("/api/v3/simple/price", btc="95000.5")
    provider.crypto("/fb/api/v3/simple/price", btc="95100")


async def rate(session, clock, base="USDT", quote="KES"):
    return await fx_service.latest_rate(session=session, base=base, quote=quote, clock=clock)


async def test_refresh_stores_every_rate_with_source_and_crosses_with_inputs(session_factory, provider):
    all_up(provider)
    clock = FixedClock()
    async with session_factory() as session:
        result = await fx_service.refresh(
            session=session, sources=sources(provider), clock=clock, policy=POLICY
        )
        await session.commit()
        assert result.errors == {}
        assert result.fetched == 6
        btc = await rate(session, clock, "BTC")
        assert btc.bid == btc.ask == Decimal("95000.5") * Decimal("129.5")
        assert btc.source == "gecko+erapi"
        usdt = await rate(session, clock)
        assert usdt.ask == Decimal("129.5")
        fetched = (
            (await session.execute(select(FxRate).where(FxRate.kind == RateKind.FETCHED))).scalars().all()
        )
        assert {(r.source, r.base, r.quote, r.rate) for r in fetched} >= {
            ("erapi", "USD", "KES", "129.5"),
            ("erapi_fallback", "USD", "KES", "129.6"),
            ("gecko", "BTC", "USD", "95000.5"),
        }
        assert all(r.fetched_at == clock.now() for r in fetched)
        cross = (await session.execute(select(FxRate).where(FxRate.id == btc.rate_id))).scalar_one()
        assert cross.inputs["USD/KES"]["bid"] == "129.5"
        assert cross.inputs["BTC/USD"]["source"] == "gecko"


async def test_primary_down_uses_fallback(session_factory, provider):
    all_up(provider)
    provider.set("/v6/KEY/latest/USD", "upstream error", status=503)
    clock = FixedClock()
    async with session_factory() as session:
        result = await fx_service.refresh(
            session=session, sources=sources(provider), clock=clock, policy=POLICY
        )
        assert "HTTP 503" in result.errors["erapi"]
        usd = await rate(session, clock, "USD")
        assert usd.ask == Decimal("129.6")
        assert usd.source == "erapi_fallback"


async def test_primary_slow_uses_fallback(session_factory, provider):
    all_up(provider)
    provider.crypto("/api/v3/simple/price", btc="95000.5", delay=600.0)  # released at teardown
    clock = FixedClock()
    async with session_factory() as session:
        result = await fx_service.refresh(
            session=session, sources=sources(provider, timeout=60.0), clock=clock, policy=SLOW_POLICY
        )
        assert "gecko" in result.errors
        btc_usd = await rate(session, clock, "BTC", "USD")
        assert btc_usd.source == "gecko_fallback"
        assert btc_usd.ask == Decimal("95100")


@pytest.mark.parametrize(
    "bad_body",
    [
        "<html><body>502 Bad Gateway</body></html>",
        {"result": "error", "error-type": "invalid-key"},
        {"result": "success", "base_code": "USD"},
        {"result": "success", "base_code": "USD", "conversion_rates": {"KES": "lots"}},
        {"result": "success", "base_code": "USD", "conversion_rates": {"KES": -1}},
        {"result": "success", "base_code": "EUR", "conversion_rates": {"KES": 140}},
    ],
)
async def test_malformed_answers_keep_the_last_good_rate(session_factory, provider, bad_body):
    all_up(provider)
    clock = FixedClock()
    async with session_factory() as session:
        await fx_service.refresh(session=session, sources=sources(provider), clock=clock, policy=POLICY)
        provider.set("/v6/KEY/latest/USD", bad_body)
        provider.set("/fallback/latest/USD", bad_body)
        clock.advance(seconds=60)
        result = await fx_service.refresh(
            session=session, sources=sources(provider), clock=clock, policy=POLICY
        )
        assert set(result.errors) == {"erapi", "erapi_fallback"}
        usd = await rate(session, clock, "USD")
        assert usd.ask == Decimal("129.5")
        usdt = await rate(session, clock)
        assert usdt.ask == Decimal("129.5")
        assert (clock.now() - usdt.as_of).total_seconds() == 60  # as old as its oldest input


async def test_stale_rate_refuses_to_quote(session_factory, provider):
    all_up(provider)
    clock = FixedClock()
    async with session_factory() as session:
        await fx_service.refresh(session=session, sources=sources(provider), clock=clock, policy=POLICY)
        provider.set("/v6/KEY/latest/USD", "down", status=500)
        provider.set("/fallback/latest/USD", "down", status=500)
        clock.advance(seconds=299)
        await fx_service.refresh(session=session, sources=sources(provider), clock=clock, policy=POLICY)
        assert (await rate(session, clock)).ask == Decimal("129.5")  # crypto new, USD/KES 299 s old
        clock.advance(seconds=2)
        with pytest.raises(RatesUnavailable) as caught:
            await rate(session, clock)
        assert caught.value.code == "rates_unavailable"


async def test_no_rate_at_all_and_unknown_pair(session_factory):
    clock = FixedClock()
    async with session_factory() as session:
        with pytest.raises(RatesUnavailable):
            await rate(session, clock)
        with pytest.raises(UnknownPair):
            await rate(session, clock, "DOGE")


async def test_disagreeing_sources_raise_an_alert_and_use_the_conservative_rate(session_factory, provider):
    all_up(provider, usd_kes="129.5", fallback_usd_kes="135")
    clock = FixedClock()
    async with session_factory() as session:
        result = await fx_service.refresh(
            session=session, sources=sources(provider), clock=clock, policy=POLICY
        )
        await session.commit()
        assert len(result.alerts) == 1
        alert = (await session.execute(select(FxAlert))).scalar_one()
        assert alert.pair == "USD/KES"
        assert alert.details["rates"] == {"erapi": "129.5", "erapi_fallback": "135"}
        usd = await rate(session, clock, "USD")
        assert (usd.bid, usd.ask) == (Decimal("129.5"), Decimal("135"))
        usdt = await rate(session, clock)
        assert usdt.bid == Decimal("129.5") and usdt.ask == Decimal("135.0")
        assert [a.id for a in await fx_service.open_alerts(session=session)] == [alert.id]
        clock.advance(seconds=60)  # still disagreeing: the same alert is updated, not a flood of new ones
        again = await fx_service.refresh(
            session=session, sources=sources(provider), clock=clock, policy=POLICY
        )
        assert again.alerts == [alert.id]
        await session.refresh(alert)
        assert alert.details["occurrences"] == 2


async def test_demo_source_is_labelled(session_factory):
    clock = FixedClock(datetime(2026, 3, 1, tzinfo=UTC))
    async with session_factory() as session:
        await fx_service.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        usdt = await rate(session, clock)
        assert usdt.is_demo and usdt.source == "demo"
        assert usdt.ask == Decimal("129.5")
