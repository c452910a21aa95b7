"""New invoices take their addresses from the pool of pre-derived addresses (no wait on the HD
counters), fall back to the counters when it is empty, and never share an address, even when
created concurrently; a payment to a pooled address is the invoice's."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.invoices import service as invoices
from core.money import Asset
from tests.integration.invoices.conftest import Shop
from wallets import service as wallet_service
from wallets.models import DepositAddress
from wallets.networks import Network


async def _pool(shop: Shop) -> dict[str, int]:
    async with shop.factory() as session:
        rows = await session.execute(
            select(DepositAddress.network, func.count())
            .where(DepositAddress.owner_type == wallet_service.POOL)
            .group_by(DepositAddress.network)
        )
        return {network: int(count) for network, count in rows.tuples()}


async def _refill(shop: Shop, target: int) -> None:
    async with shop.factory() as session, session.begin():
        for network in Network:
            await wallet_service.refill_pool(
                session=session, deriver=shop.gateway._deriver, network=network, target=target
            )


async def _create(shop: Shop) -> invoices.InvoiceView:
    async with shop.factory() as session, session.begin():
        return await invoices.create_invoice_view(
            session=session,
            merchant_id=shop.merchant_id,
            request=invoices.NewInvoice(amount="2500"),
            clock=shop.clock,
            chains=shop.gateway,
        )


async def test_pool_then_counters_never_the_same_address(shop: Shop) -> None:
    await _refill(shop, 2)
    assert await _pool(shop) == {"btc": 2, "erc20": 2, "trc20": 2}
    views = [await _create(shop) for _ in range(4)]  # two from the pool, two from the counters
    assert await _pool(shop) == {}
    addresses = [m.address for v in views for m in v.methods if m.address]
    assert len(addresses) == len(set(addresses)) == 12
    await _refill(shop, 3)  # the counters went on past the pool's indexes
    async with shop.factory() as session:
        indexes = (
            (
                await session.execute(
                    select(DepositAddress.derivation_index).where(DepositAddress.network == "trc20")
                )
            )
            .scalars()
            .all()
        )
    assert sorted(indexes) == list(range(7))


async def test_pooled_address_payment_is_the_invoices(shop: Shop) -> None:
    await _refill(shop, 1)
    view = await _create(shop)
    trc20 = view.method(Asset.USDT_TRC20)
    assert trc20 is not None
    shop.chain(Network.TRC20).pay(trc20.address, trc20.due.minor)
    monitor = shop.monitor(Network.TRC20)
    shop.chain(Network.TRC20).produce(1)
    await monitor.step()
    async with shop.factory() as session:
        shown = await invoices.get_invoice(session=session, invoice_id=view.public_id)
    assert shown.status == "processing"


async def test_concurrent_creations_get_distinct_addresses(shop: Shop) -> None:
    await _refill(shop, 5)
    views = await asyncio.gather(*(_create(shop) for _ in range(8)))
    addresses = [m.address for v in views for m in v.methods if m.address]
    assert len(addresses) == len(set(addresses)) == 24


async def test_the_scheduler_job_refills_the_pool(shop: Shop) -> None:
    from core import runtime as runtime_module
    from tests.integration.identity.api_helpers import make_runtime
    from wallets.address_pool import refill_invoice_address_pool

    runtime = make_runtime(shop.factory, shop.clock)
    runtime.chains = shop.gateway
    previous = runtime_module._current
    runtime_module.install(runtime)
    try:
        assert await refill_invoice_address_pool(target=3) == {"btc": 3, "erc20": 3, "trc20": 3}
        assert await refill_invoice_address_pool(target=3) == {"btc": 0, "erc20": 0, "trc20": 0}
    finally:
        runtime_module._current = previous
    assert await _pool(shop) == {"btc": 3, "erc20": 3, "trc20": 3}
