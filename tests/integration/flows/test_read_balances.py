"""The balances read as its own unit of work (`accounts.read_balances`, what a USSD balances hop
reads): the same lines as `accounts.balances` in a session, on PostgreSQL (a pooled asyncpg
connection, no ORM session) and SQLite; pending holds are left out, a missing wallet is zero,
and the KES values are right whether the rates come from the database or the process's cache; a
database error reading the bids shows the cached ones (while their rate is fresh), never fails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import telemetry
from core.clock import FixedClock, SystemClock
from core.flows import accounts
from core.fx import service as fx
from core.fx.policy import FxPolicy
from core.fx.sources import DemoRateSource
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money

CUSTOMER = 7


async def _seed(factory: async_sessionmaker[AsyncSession]) -> None:
    clock = SystemClock()
    async with factory() as session:
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        for asset, amount in ((Asset.USDT_TRC20, "100"), (Asset.BTC, "0.015"), (Asset.KES, "2500.50")):
            custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=asset)
            wallet = await accounts.wallet_account_id(session, CUSTOMER, asset)
            await ledger.transfer(
                session=session, idempotency_key=f"fund-{asset.value}", from_account_id=custody.id,
                to_account_id=wallet, amount=Money.of(amount, asset), kind="deposit",
            )  # fmt: skip
        usdt = await accounts.wallet_account_id(session, CUSTOMER, Asset.USDT_TRC20)
        await ledger.place_hold(
            session=session,
            idempotency_key="hold-1",
            account_id=usdt,
            amount=Money.of("30", Asset.USDT_TRC20),
        )
        await session.commit()


async def test_read_balances_matches_the_session_read(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await _seed(session_factory)
    clock = SystemClock()
    async with session_factory() as session:
        expected = await accounts.balances(session, CUSTOMER, clock)
    accounts._rates.clear()  # the rates from the database this time
    from_database = await accounts.read_balances(session_factory, CUSTOMER, clock)
    from_cache = await accounts.read_balances(session_factory, CUSTOMER, clock)
    assert from_database == expected == from_cache
    by_asset = {line.asset: line for line in from_cache}
    assert by_asset[Asset.USDT_TRC20].amount == Money.of("70", Asset.USDT_TRC20)  # less the hold
    assert by_asset[Asset.USDT_ERC20].amount == Money.of("0", Asset.USDT_ERC20)  # never opened
    assert by_asset[Asset.KES].kes_value == Money.of("2500.50", Asset.KES)
    assert by_asset[Asset.BTC].kes_value is not None and by_asset[Asset.BTC].kes_value.is_positive()


async def test_no_wallets_reads_zeros(session_factory: async_sessionmaker[AsyncSession]) -> None:
    accounts._rates.clear()
    lines = await accounts.read_balances(session_factory, 99, SystemClock())
    assert [line.asset for line in lines] == list(accounts.WALLET_ASSETS)
    assert all(line.amount.amount == 0 for line in lines)
    assert all(line.kes_value is None for line in lines if line.asset is not Asset.KES)  # no rates yet


async def test_expired_bids_are_read_again_once(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty balances reads finding the cached bids expired: one reads them again (each currency
    once), the others show the bids being replaced meanwhile; then every read has the new ones."""
    await _seed(session_factory)
    clock = SystemClock()
    current = await accounts.read_balances(session_factory, CUSTOMER, clock)
    for key, (at, _bid) in list(accounts._rates.items()):
        accounts._rates[key] = (
            at - accounts.RATE_CACHE_SECONDS - 1,
            Decimal("1"),
        )  # expired, not the database's
    reads: list[str] = []
    latest_rate = accounts.fx.latest_rate

    async def counted(**kwargs: Any) -> Any:
        reads.append(kwargs["base"])
        return await latest_rate(**kwargs)

    monkeypatch.setattr(accounts.fx, "latest_rate", counted)
    meanwhile = await asyncio.gather(
        *(accounts.read_balances(session_factory, CUSTOMER, clock) for _ in range(20))
    )
    assert sorted(reads) == ["BTC", "USDT"]
    assert all([line.amount for line in lines] == [line.amount for line in current] for lines in meanwhile)
    assert await accounts.read_balances(session_factory, CUSTOMER, clock) == current
    assert not accounts._refreshing


@contextlib.asynccontextmanager
async def _rates_table_gone(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """Really break the bids' read on the database (no mock): the rates table is renamed away for the
    block (a query on it fails on the server), and put back after."""
    async with factory() as session:
        await session.execute(text("ALTER TABLE fx_rates RENAME TO fx_rates_away"))
        await session.commit()
    try:
        yield
    finally:
        async with factory() as session:
            await session.execute(text("ALTER TABLE fx_rates_away RENAME TO fx_rates"))
            await session.commit()


@pytest.fixture
def counted() -> Iterator[list[tuple[str, dict[str, str]]]]:
    events: list[tuple[str, dict[str, str]]] = []
    telemetry.install(lambda event, labels: events.append((event, labels)))
    yield events
    telemetry.install(None)


def _expire_cache() -> None:
    """Every cached bid due to be read again (the bids themselves kept)."""
    for key, (at, bid) in list(accounts._rates.items()):
        accounts._rates[key] = (at - accounts.RATE_CACHE_SECONDS - 1, bid)


async def test_a_database_error_refreshing_the_bids_shows_the_cached_ones(
    session_factory: async_sessionmaker[AsyncSession], counted: list[tuple[str, dict[str, str]]]
) -> None:
    """The balances screen does not fail for it: the bids read before are shown (none made up), the
    failure is counted and logged, and the bids are read again once the database answers."""
    await _seed(session_factory)
    clock = SystemClock()
    before = await accounts.read_balances(session_factory, CUSTOMER, clock)
    _expire_cache()
    async with _rates_table_gone(session_factory):
        during = await accounts.read_balances(session_factory, CUSTOMER, clock)
        assert during == before
        assert (
            await accounts.read_balances(session_factory, CUSTOMER, clock) == before
        )  # not read again at once
    assert counted == [("fx.display_refresh_failed", {"shown": "cached"})] * 2  # BTC and USDT, once each
    assert not accounts._refreshing
    _expire_cache()
    assert await accounts.read_balances(session_factory, CUSTOMER, clock) == before  # read again, fine
    assert len(counted) == 2


async def test_a_database_error_on_the_first_bids_shows_the_balances_without_kes_values(
    session_factory: async_sessionmaker[AsyncSession], counted: list[tuple[str, dict[str, str]]]
) -> None:
    await _seed(session_factory)
    async with _rates_table_gone(session_factory):
        lines = await accounts.read_balances(session_factory, CUSTOMER, SystemClock())
    by_asset = {line.asset: line for line in lines}
    assert by_asset[Asset.BTC].amount == Money.of("0.015", Asset.BTC)
    assert by_asset[Asset.KES].kes_value == Money.of("2500.50", Asset.KES)
    assert by_asset[Asset.BTC].kes_value is None and by_asset[Asset.USDT_TRC20].kes_value is None
    assert {labels["shown"] for _, labels in counted} == {"none"}


async def test_after_a_failed_refresh_a_cached_bid_is_shown_only_while_its_rate_is_fresh(
    session_factory: async_sessionmaker[AsyncSession], counted: list[tuple[str, dict[str, str]]]
) -> None:
    """The same age limit quotes apply (FxPolicy.max_age): an older bid is not shown, none instead."""
    await _seed(session_factory)
    clock = FixedClock(SystemClock().now())
    await accounts.read_balances(session_factory, CUSTOMER, clock)
    _expire_cache()
    clock.advance(seconds=FxPolicy().max_age.total_seconds() + 1)
    async with _rates_table_gone(session_factory):
        lines = await accounts.read_balances(session_factory, CUSTOMER, clock)
    assert all(line.kes_value is None for line in lines if line.asset is not Asset.KES)
    assert {labels["shown"] for _, labels in counted} == {"none"}


async def test_the_failure_reaches_prometheus(session_factory: async_sessionmaker[AsyncSession]) -> None:
    """Through the sink webapp.bootstrap installs: kibeti_fx_display_refresh_failed_total{shown}."""
    from prometheus_client import REGISTRY

    from webapp.observability.metrics import count_event

    def failures() -> float:
        found = REGISTRY.get_sample_value("kibeti_fx_display_refresh_failed_total", {"shown": "cached"})
        return found or 0.0

    await _seed(session_factory)
    clock = SystemClock()
    await accounts.read_balances(session_factory, CUSTOMER, clock)
    _expire_cache()
    before = failures()
    telemetry.install(count_event)
    try:
        async with _rates_table_gone(session_factory):
            await accounts.read_balances(session_factory, CUSTOMER, clock)
    finally:
        telemetry.install(None)
    assert failures() == before + 2


@pytest.fixture(autouse=True)
def _fresh_rate_cache() -> None:
    accounts._rates.clear()
    accounts._usable_until.clear()
