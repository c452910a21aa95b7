"""Wallet keys are checked at start-up (issue 11 item 7): checksum, version bytes for the network and
script type, account depth and index, a message naming the setting; no silent fallback to the public
development mnemonic outside the embedded demo; the signer's testnet export is the promised vpub."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import Settings, WalletSettings
from wallets.adapter import deriver_for
from wallets.errors import WalletNotConfigured
from wallets.hd.derivation import AddressDeriver, btc_address, check_account_key, with_version
from wallets.hd.encoding import B58_ALPHABET, b58check_decode, b58check_encode
from wallets.hd.keys import Seed, seed_from_mnemonic
from wallets.networks import BitcoinNet, Network, account_key_settings

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
BIP84_ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868"
    "RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
)
# The same mnemonic's m/84'/1'/0' as a vpub (the key test-net wallets such as Electrum and Sparrow show)
TESTNET_VPUB = (
    "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAv"
    "tbBrf8ZhDYe2jWAqvZVnsc"
)
SEED = Seed(seed_from_mnemonic(MNEMONIC))
ETH_XPUB = SEED.account_xpub(Network.ERC20)


def _reserialised(key: str, *, depth: int | None = None, child: int | None = None) -> str:
    raw = bytearray(b58check_decode(key))
    if depth is not None:
        raw[4] = depth
    if child is not None:
        raw[9:13] = child.to_bytes(4, "big")
    return b58check_encode(bytes(raw))


def _refused(key: str, network: Network, net: BitcoinNet = BitcoinNet.MAINNET) -> str:
    with pytest.raises(WalletNotConfigured) as refused:
        AddressDeriver({network: key}, btc_net=net, settings=account_key_settings())
    return str(refused.value)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(BIP84_ZPUB) - 1), char=st.sampled_from(B58_ALPHABET))
def test_every_one_character_typo_of_a_zpub_is_refused(position: int, char: str) -> None:
    typo = BIP84_ZPUB[:position] + char + BIP84_ZPUB[position + 1 :]
    if typo == BIP84_ZPUB:
        return
    assert "BTC_ACCOUNT_XPUB" in _refused(typo, Network.BTC)


@pytest.mark.parametrize(
    ("key", "network", "net", "says"),
    [
        (TESTNET_VPUB, Network.BTC, BitcoinNet.MAINNET, "BITCOIN_NET=mainnet"),  # a testnet key on mainnet
        (BIP84_ZPUB, Network.BTC, BitcoinNet.TESTNET, "vpub"),  # a mainnet key on testnet
        (with_version(BIP84_ZPUB, "ypub"), Network.BTC, BitcoinNet.MAINNET, "ypub"),  # BIP49
        (with_version(BIP84_ZPUB, "xpub"), Network.BTC, BitcoinNet.MAINNET, "zpub"),  # legacy kind
        (BIP84_ZPUB, Network.ERC20, BitcoinNet.MAINNET, "ETH_ACCOUNT_XPUB"),  # a zpub as the ETH key
        (_reserialised(ETH_XPUB, depth=0, child=0), Network.ERC20, BitcoinNet.MAINNET, "depth-0"),  # master
        (_reserialised(ETH_XPUB, depth=4, child=0), Network.TRC20, BitcoinNet.MAINNET, "depth-4"),  # change
        (_reserialised(ETH_XPUB, child=2**31 + 1), Network.ERC20, BitcoinNet.MAINNET, "account 1'"),
        ("not a key at all", Network.TRC20, BitcoinNet.MAINNET, "TRON_ACCOUNT_XPUB"),
    ],
)
def test_wrong_kind_network_or_depth_is_refused_naming_the_setting(
    key: str, network: Network, net: BitcoinNet, says: str
) -> None:
    message = _refused(key, network, net)
    assert says in message and account_key_settings()[network] in message


def test_a_private_key_is_refused() -> None:
    xprv = str(SEED._root().subkey_for_path("m/44'/60'/0'").wif_private())
    assert "PRIVATE" in _refused(xprv, Network.ERC20)


def test_the_signer_exports_the_vpub_its_settings_promise_on_test_nets() -> None:
    for net in (BitcoinNet.TESTNET, BitcoinNet.REGTEST):
        exported = Seed(SEED.value, btc_net=net).account_xpub(Network.BTC)
        assert exported == TESTNET_VPUB
        assert check_account_key(exported, Network.BTC, btc_net=net, setting="BTC_ACCOUNT_XPUB") == exported
    assert (
        btc_address(TESTNET_VPUB, 0, net=BitcoinNet.TESTNET) == "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl"
    )
    assert SEED.account_xpub(Network.BTC) == BIP84_ZPUB


def test_the_good_keys_pass() -> None:
    deriver = AddressDeriver({n: SEED.account_xpub(n) for n in Network})
    assert deriver.address(Network.ERC20, 0) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


@pytest.mark.parametrize(
    ("core", "allowed"),
    [
        (Settings(_env_file=None, kibeti_env="development", redis_url=""), True),  # the embedded demo
        (Settings(_env_file=None, kibeti_env="test", redis_url="redis://localhost:6379/9"), True),
        (Settings(_env_file=None, kibeti_env="development", redis_url="redis://redis:6379/0"), False),
        (Settings(_env_file=None, kibeti_env="production", redis_url=""), False),
    ],
)
def test_only_the_embedded_demo_falls_back_to_the_development_mnemonic(core: Settings, allowed: bool) -> None:
    keys = WalletSettings(_env_file=None, btc_account_xpub="", eth_account_xpub="", tron_account_xpub="")
    if allowed:
        deriver = deriver_for(keys, core)
        assert (
            deriver.demo and deriver.address(Network.ERC20, 0) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
        )
        return
    with pytest.raises(WalletNotConfigured, match="ETH_ACCOUNT_XPUB"):
        deriver_for(keys, core)


def test_configured_keys_are_not_demo_and_a_bad_one_stops_start_up() -> None:
    core = Settings(_env_file=None, kibeti_env="development", redis_url="")
    good = WalletSettings(
        _env_file=None, eth_account_xpub=ETH_XPUB, btc_account_xpub="", tron_account_xpub=""
    )
    assert not deriver_for(good, core).demo
    bad = WalletSettings(
        _env_file=None, eth_account_xpub=ETH_XPUB, btc_account_xpub=TESTNET_VPUB, tron_account_xpub=""
    )
    with pytest.raises(WalletNotConfigured, match="BTC_ACCOUNT_XPUB"):
        deriver_for(bad, core)


def test_the_signer_refuses_a_seed_that_is_not_the_configured_keys() -> None:
    from wallets.withdrawals.signer import check_seed_matches

    ours = WalletSettings(
        _env_file=None, btc_account_xpub=BIP84_ZPUB, eth_account_xpub=ETH_XPUB, tron_account_xpub=""
    )
    check_seed_matches(SEED, ours)
    other = Seed(
        seed_from_mnemonic("legal winner thank year wave sausage worth useful legal winner thank yellow")
    )
    with pytest.raises(WalletNotConfigured, match="BTC_ACCOUNT_XPUB"):
        check_seed_matches(other, ours)
