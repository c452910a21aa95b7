"""HD derivation against published vectors (BIP84; the well-known BIP44 ETH/TRON vectors)."""

from __future__ import annotations

import pytest

from wallets.errors import WalletNotConfigured
from wallets.hd.derivation import AddressDeriver, btc_address, child_public_key, evm_address, tron_address
from wallets.hd.keys import Seed, seed_from_mnemonic
from wallets.networks import BitcoinNet, Network

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
# BIP84 test vectors: account 0 (m/84'/0'/0')
BIP84_ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868"
    "RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
)


@pytest.fixture(scope="module")
def seed() -> Seed:
    return Seed(seed_from_mnemonic(MNEMONIC))


def test_bip84_account_zpub_from_seed(seed: Seed) -> None:
    assert seed.account_xpub(Network.BTC) == BIP84_ZPUB


@pytest.mark.parametrize(
    ("chain", "index", "pubkey", "address"),
    [
        (
            0,
            0,
            "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c",
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
        ),
        (
            0,
            1,
            "03e775fd51f0dfb8cd865d9ff1cca2a158cf651fe997fdc9fee9c1d3b5e995ea77",
            "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g",
        ),
        (
            1,
            0,
            "03025324888e429ab8e3dbaf1f7802648b9cd01e9b418485c5fa4c1b9b5700e1a6",
            "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el",
        ),
    ],
)
def test_bip84_vectors_watch_only(chain: int, index: int, pubkey: str, address: str) -> None:
    assert child_public_key(BIP84_ZPUB, index, chain=chain).public_byte.hex() == pubkey
    assert btc_address(BIP84_ZPUB, index, chain=chain) == address


def test_eth_bip44_vector(seed: Seed) -> None:
    xpub = seed.account_xpub(Network.ERC20)
    # m/44'/60'/0'/0/0 and /1 of the "abandon ... about" mnemonic (as MetaMask, Ledger and ethers show)
    assert evm_address(xpub, 0) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    assert evm_address(xpub, 1) == "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0"


def test_tron_bip44_vector(seed: Seed) -> None:
    xpub = seed.account_xpub(Network.TRC20)
    # m/44'/195'/0'/0/0 of the same mnemonic (as TronLink shows)
    assert tron_address(xpub, 0) == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"


@pytest.mark.parametrize("network", list(Network))
def test_watch_only_matches_signer_keys(seed: Seed, network: Network) -> None:
    """The address an API process derives from the xpub is the one the signer's private key controls."""
    from eth_account import Account
    from tronpy.keys import PrivateKey

    deriver = AddressDeriver({n: seed.account_xpub(n) for n in Network})
    for index in (0, 7):
        private = seed.private_key(network, index)
        if network is Network.ERC20:
            assert deriver.address(network, index) == Account.from_key(private).address
        elif network is Network.TRC20:
            expected = PrivateKey(private).public_key.to_base58check_address()
            assert deriver.address(network, index) == expected
        else:
            from wallets.hd._bitcoinlib import Key

            assert deriver.address(network, index) == Key(private, network="bitcoin").address(
                encoding="bech32", script_type="p2wpkh"
            )


def test_testnet_paths_and_prefix() -> None:
    seed = Seed(seed_from_mnemonic(MNEMONIC), btc_net=BitcoinNet.REGTEST)
    deriver = AddressDeriver({Network.BTC: seed.account_xpub(Network.BTC)}, btc_net=BitcoinNet.REGTEST)
    assert deriver.address(Network.BTC, 0).startswith("bcrt1q")
    assert deriver.path(Network.BTC, 3) == "m/84'/1'/0'/0/3"


def test_unconfigured_network_and_private_key_refused(seed: Seed) -> None:
    deriver = AddressDeriver({Network.BTC: BIP84_ZPUB})
    with pytest.raises(WalletNotConfigured):
        deriver.address(Network.ERC20, 0)
    assert deriver.path(Network.ERC20, 5) == "m/44'/60'/0'/0/5"
    assert "redacted" in repr(seed)
