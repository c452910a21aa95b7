"""Fixtures of the wallets integration tests: a test HD wallet, an EVM chain with TestUSDT."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.integration.wallets.evm import EvmChain
from tests.integration.wallets.ganache import Ganache, GanacheUnavailable
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed, seed_from_mnemonic
from wallets.networks import Network

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@pytest.fixture(scope="session")
def test_seed() -> Seed:
    return Seed(seed_from_mnemonic(MNEMONIC))


@pytest.fixture(scope="session")
def deriver(test_seed: Seed) -> AddressDeriver:
    return AddressDeriver({network: test_seed.account_xpub(network) for network in Network})


@pytest.fixture
def evm() -> EvmChain:
    return EvmChain()


@pytest.fixture(scope="session")
def ganache_url() -> Iterator[str]:
    """A ganache node for this test session; a failure (not a skip) when it cannot start."""
    node = Ganache()
    try:
        url = node.start()
    except (GanacheUnavailable, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"cannot start the local EVM node (ganache): {exc}")
    yield url
    node.stop()


@pytest.fixture
async def ganache_evm(ganache_url: str) -> AsyncIterator[EvmChain]:
    """A fresh TestUSDT deployment on the session's ganache node (the chain itself is shared)."""
    chain = EvmChain(ganache_url)
    yield chain
    await chain.close()
