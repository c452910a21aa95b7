"""Fixtures of the wallets integration tests: a test HD wallet, an EVM chain with TestUSDT."""

from __future__ import annotations

import pytest

from tests.integration.wallets.evm import EvmChain
from wallets.hd import AddressDeriver
from wallets.keys import Seed, seed_from_mnemonic
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
