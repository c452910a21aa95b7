"""Fee estimation from the nodes: BTC sat/vB (Esplora) and TRON energy/bandwidth (chain parameters)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.integration.wallets.fake_chains import FakeEsplora, FakeTron
from wallets.btc.fees import fee_rate, fee_sats, p2wpkh_vsize
from wallets.errors import NodeError
from wallets.trc20.fees import estimate_transfer, tron_hex_parameter

OWNER = "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


@pytest.fixture
def esplora() -> Iterator[tuple[FakeEsplora, str]]:
    fake = FakeEsplora()
    yield fake, fake.start()
    fake.stop()


@pytest.fixture
def tron() -> Iterator[tuple[FakeTron, str]]:
    fake = FakeTron()
    yield fake, fake.start()
    fake.stop()


async def test_btc_fee_rate_is_exact_and_sized(esplora: tuple[FakeEsplora, str]) -> None:
    fake, url = esplora
    async with httpx.AsyncClient(base_url=url) as client:
        assert await fee_rate(client, target_blocks=3) == Decimal("12.008")
        assert await fee_rate(client, target_blocks=5) == Decimal("12.008")
        assert await fee_rate(client, target_blocks=1) == Decimal("25.312")
        fake.fee_estimates_json = '{"1": 0.5}'
        assert await fee_rate(client, target_blocks=1) == Decimal(1)  # never below min relay
        fake.fee_estimates_json = '{"6": "lots"}'
        with pytest.raises(NodeError):
            await fee_rate(client, target_blocks=6)
        fake.chain.down = True
        with pytest.raises(NodeError):
            await fee_rate(client)
    assert p2wpkh_vsize(1, 2) == 141  # 10.5 + 68 + 62, rounded up
    assert fee_sats(Decimal("12.008"), inputs=1, outputs=2) == 1694  # ceil(12.008 * 141)


async def test_tron_fee_energy_and_bandwidth(tron: tuple[FakeTron, str]) -> None:
    fake, url = tron
    async with httpx.AsyncClient(base_url=url) as client:
        burn_all = await estimate_transfer(client, owner=OWNER, contract=USDT, to=USDT, amount=5_000_000)
        assert burn_all.energy == 64_285 and burn_all.bandwidth_burn == 0  # 600 free bytes cover it
        assert burn_all.sun == 64_285 * 420
        assert burn_all.trx == "26.999700"
        fake.resources[OWNER] = {
            "freeNetLimit": 600,
            "freeNetUsed": 500,
            "EnergyLimit": 50_000,
            "EnergyUsed": 0,
        }
        staked = await estimate_transfer(client, owner=OWNER, contract=USDT, to=USDT, amount=5_000_000)
        assert staked.energy_burn == 14_285 and staked.bandwidth_burn == 345
        assert staked.sun == 14_285 * 420 + 345 * 1000
    assert tron_hex_parameter(USDT, 1).endswith("0" * 63 + "1") and len(tron_hex_parameter(USDT, 1)) == 128
