"""Address validation tables for all three networks, including cross-network mistakes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Asset
from wallets.errors import InvalidAddress, UnsupportedAsset, WrongNetworkAddress
from wallets.gateway import WalletGateway
from wallets.hd.addresses import validate
from wallets.hd.derivation import AddressDeriver
from wallets.hd.encoding import b58check_decode, b58check_encode, segwit_decode, segwit_encode
from wallets.networks import BitcoinNet, Network

ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 spec vector
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # USDT's TRC20 contract
BTC_SEGWIT = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"  # BIP84 vector
BTC_TAPROOT = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"  # BIP86 vector
BTC_P2PKH = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
BTC_P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BTC_TESTNET = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"  # BIP-173 vector
BTC_REGTEST = "bcrt1qs758ursh4q9z627kt3pp5yysm78ddny6txaqgw"


@pytest.mark.parametrize(
    ("network", "text", "canonical"),
    [
        (Network.ERC20, ETH, ETH),
        (Network.ERC20, ETH.lower(), ETH),
        (Network.ERC20, "0x" + ETH[2:].upper(), ETH),
        (
            Network.ERC20,
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        ),
        (Network.ERC20, "  " + ETH + "\n", ETH),
        (Network.TRC20, TRON, TRON),
        (Network.TRC20, "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"),
        (Network.BTC, BTC_SEGWIT, BTC_SEGWIT),
        (Network.BTC, BTC_SEGWIT.upper(), BTC_SEGWIT),
        (Network.BTC, BTC_TAPROOT, BTC_TAPROOT),
        (Network.BTC, BTC_P2PKH, BTC_P2PKH),
        (Network.BTC, BTC_P2SH, BTC_P2SH),
        (
            Network.BTC,
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
    ],
)
def test_valid(network: Network, text: str, canonical: str) -> None:
    assert validate(network, text) == canonical


@pytest.mark.parametrize(
    ("network", "text", "fragment"),
    [
        (Network.ERC20, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "checksum"),  # one case flipped
        (Network.ERC20, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "40 hexadecimal"),
        (Network.ERC20, "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "40 hexadecimal"),
        (Network.ERC20, "0x" + "0" * 40, "zero address"),
        (Network.ERC20, "0xZZZeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x"),
        (Network.ERC20, "", "enter"),
        (Network.TRC20, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6T", "checksum"),
        (Network.TRC20, "TR7NHqjeKQxGTCi8q8ZY4p", "34 characters"),
        (Network.TRC20, "41a614f803b6fd780986a42c78ec9c7f77e6ded13c", "hex form"),
        (Network.BTC, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv", "checksum"),
        (Network.BTC, "bc1zw508d6qejxtdg4c5r3zarvaryvqyzf3du", "Bitcoin"),  # BIP-350 invalid
        (Network.BTC, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "Bitcoin"),
        (Network.BTC, "hello", "Bitcoin"),
    ],
)
def test_invalid(network: Network, text: str, fragment: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        validate(network, text)
    assert not isinstance(info.value, WrongNetworkAddress)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("network", "text", "found", "advice"),
    [
        (Network.ERC20, TRON, "trc20", "USDT-TRC20"),
        (Network.ERC20, BTC_SEGWIT, "btc", "BTC"),
        (Network.ERC20, BTC_P2PKH, "btc", "BTC"),
        (Network.TRC20, ETH, "erc20", "USDT-ERC20"),
        (Network.TRC20, ETH.lower(), "erc20", "USDT-ERC20"),
        (Network.TRC20, BTC_P2SH, "btc", "BTC"),
        (Network.BTC, ETH, "erc20", "USDT-ERC20"),
        (Network.BTC, TRON, "trc20", "USDT-TRC20"),
    ],
)
def test_cross_network_refused_naming_the_right_network(
    network: Network, text: str, found: str, advice: str
) -> None:
    with pytest.raises(WrongNetworkAddress) as info:
        validate(network, text)
    assert info.value.found == found
    assert info.value.expected == network.value
    assert advice in str(info.value)
    assert info.value.code == "wrong_network_address"


@pytest.mark.parametrize("text", [BTC_TESTNET, BTC_REGTEST, "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"])
def test_bitcoin_test_networks_refused_on_mainnet(text: str) -> None:
    with pytest.raises(WrongNetworkAddress) as info:
        validate(Network.BTC, text)
    assert "mainnet" in str(info.value)


def test_bitcoin_regtest_configured() -> None:
    assert validate(Network.BTC, BTC_REGTEST, btc_net=BitcoinNet.REGTEST) == BTC_REGTEST
    with pytest.raises(WrongNetworkAddress):
        validate(Network.BTC, BTC_SEGWIT, btc_net=BitcoinNet.REGTEST)


def test_gateway_validates_by_asset() -> None:
    gateway = WalletGateway(session_factory=None, deriver=AddressDeriver({}))  # type: ignore[arg-type]
    assert gateway.validate_address(asset=Asset.USDT_ERC20, address=ETH.lower()) == ETH
    with pytest.raises(WrongNetworkAddress, match="USDT-TRC20"):
        gateway.validate_address(asset=Asset.USDT_ERC20, address=TRON)
    with pytest.raises(UnsupportedAsset):
        gateway.validate_address(asset=Asset.KES, address=ETH)


@given(st.binary(min_size=1, max_size=40))
def test_base58check_roundtrip(payload: bytes) -> None:
    assert b58check_decode(b58check_encode(payload)) == payload


@given(st.binary(min_size=20, max_size=20) | st.binary(min_size=32, max_size=32), st.sampled_from([0, 1]))
def test_segwit_roundtrip(program: bytes, version: int) -> None:
    address = segwit_encode("bc", version, program)
    assert segwit_decode("bc", address) == (version, program)
