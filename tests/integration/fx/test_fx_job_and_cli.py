"""The 60 s refresh job through the installed Runtime (with the optional Redis cache), the CLI
end to end against local fake providers, and racing executions of one quote on PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import redis.asyncio
from sqlalchemy import func, select

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.db.session import make_engine, make_session_factory
from core.fx import cache, jobs
from core.fx import service as fx_service
from core.fx.sources import CoinGeckoSource, DemoRateSource, ExchangeRateApiSource
from core.ledger import service as ledger
from core.ledger.models import AccountKind, JournalEntry, OwnerType, PostingRequest
from core.money import Asset, Money
from core.quotes import service as quotes
from core.quotes.errors import QuoteAlreadyUsed
from core.quotes.maths import QuoteKind, QuoteRequest
from core.runtime import Runtime
from tests.cli import kibeti
from webapp.http_get import httpx_get


class _NoQueue:
    def enqueue(self, job, *, job_id, kwargs, queue="default"):  # pragma: no cover - unused
        raise AssertionError("not used")

    def is_pending(self, job_id):  # pragma: no cover - unused
        return False


async def test_refresh_job_stores_rates_and_fills_the_redis_cache(db_url, redis_url, provider):
    provider.usd_kes("/latest/USD", "130.25")
    provider.crypto("/api/v3/simple/price", btc="90000", usdt="0.999")
    engine = make_engine(db_url)
    client = redis.asyncio.Redis.from_url(redis_url)
    clock = FixedClock()
    runtime = Runtime(
        # the source timeout bounds the wait for the local fakes: generous on a busy machine
        settings=Settings(_env_file=None, database_url=db_url, fx_source_timeout_seconds=Decimal(30)),
        session_factory=make_session_factory(engine),
        clock=clock,
        queue=_NoQueue(),
        rate_sources=[
            ExchangeRateApiSource(get=httpx_get, name="erapi", url=provider.url("/latest/USD"), timeout=30),
            CoinGeckoSource(get=httpx_get, name="gecko", url=provider.url(""), timeout=30),
        ],
        redis=client,
    )
    previous = runtime_module._current
    runtime_module.install(runtime)
    try:
        await jobs.refresh_rates()
        async with runtime.session_factory() as session:
            rate = await fx_service.latest_rate(session=session, base="USDT", quote="KES", clock=clock)
        assert rate.ask == Decimal("0.999") * Decimal("130.25")
        cached = await cache.load(client, "USDT", "KES")
        assert cached == rate
    finally:
        runtime_module._current = previous
        await client.aclose()
        await engine.dispose()


def test_cli_refresh_and_quote_against_local_providers(sqlite_url, provider):
    provider.usd_kes("/v6/KEY/latest/USD", "129.5")
    provider.crypto("/api/v3/simple/price")
    env = {
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": "",
        "FX_USD_KES_URL": provider.url("/v6/{api_key}/latest/USD"),
        "FX_API_KEY": "KEY",
        "FX_CRYPTO_URL": provider.url(""),
    }
    refresh = kibeti("fx", "refresh", env=env)
    assert refresh.returncode == 0, refresh.stderr
    assert "sources: usd_kes, crypto" in refresh.stdout
    assert "USDT/KES" in refresh.stdout and "DEMO" not in refresh.stdout
    shown = kibeti("quote", "buy", "1000", "KES", "USDT-TRC20", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "you receive   USDT 7.683589" in shown.stdout
    assert "FX margin     KES 4.97" in shown.stdout
    assert "[sw," in shown.stdout and "Nunua USDT" in shown.stdout
    bad = kibeti("quote", "buy", "5", "KES", "BTC", env=env)
    assert bad.returncode == 1 and "M-Pesa minimum" in bad.stderr


@pytest.mark.postgres
async def test_racing_executions_post_once(pg_session_factory):
    clock = FixedClock()
    async with pg_session_factory() as session:
        await fx_service.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        kes_wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=1, asset=Asset.KES
        )
        usdt_wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=1, asset=Asset.USDT_TRC20
        )
        float_account = await ledger.system_account(
            session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
        )
        amount = Money.of("5000", Asset.KES)
        await ledger.post_entry(session=session, idempotency_key="fund", kind="deposit", postings=[
            PostingRequest(float_account.id, -amount), PostingRequest(kes_wallet.id, amount)])  # fmt: skip
        quote = await quotes.create_quote(
            session=session, request=QuoteRequest(QuoteKind.BUY, Asset.USDT_TRC20, Money.of(1000, Asset.KES)),
            clock=clock,
        )  # fmt: skip
        await session.commit()

    async def execute(key: str) -> str:
        async with pg_session_factory() as session:
            try:
                await quotes.execute_quote(
                    session=session, quote_id=quote.id, pay_account_id=kes_wallet.id,
                    receive_account_id=usdt_wallet.id, idempotency_key=key, clock=clock,
                )  # fmt: skip
                await session.commit()
                return "posted"
            except QuoteAlreadyUsed:
                return "refused"

    outcomes = await asyncio.gather(*(execute(f"k{i}") for i in range(8)))
    assert sorted(outcomes) == ["posted"] + ["refused"] * 7
    async with pg_session_factory() as session:
        count = (await session.execute(select(func.count()).select_from(JournalEntry))).scalar_one()
        assert count == 2  # the funding entry and one quote entry
        assert await ledger.balance(session=session, account_id=kes_wallet.id) == Money.of("4000", Asset.KES)
