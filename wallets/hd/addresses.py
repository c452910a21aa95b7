"""Address validation per network, with clear messages for cross-network mistakes.

`validate(network, text)` returns the canonical form (lowercase bech32 for BTC segwit, EIP-55 for
Ethereum, base58check T... for TRON) or raises InvalidAddress / WrongNetworkAddress.
"""

from __future__ import annotations

import re

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from wallets.errors import InvalidAddress, WrongNetworkAddress
from wallets.hd.encoding import b58check_decode, segwit_decode
from wallets.networks import BITCOIN_PARAMS, BitcoinNet, Network

_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
_TRON_HEX = re.compile(r"^41[0-9a-fA-F]{40}$")
TRON_VERSION = 0x41


def validate(network: Network, text: str, *, btc_net: BitcoinNet = BitcoinNet.MAINNET) -> str:
    address = text.strip()
    if not address:
        raise InvalidAddress(f"enter a {network.label} address")
    if network is Network.BTC:
        return _validate_btc(address, btc_net)
    if network is Network.ERC20:
        return _validate_evm(address, btc_net)
    return _validate_tron(address, btc_net)


# --- what does this text look like? (used to name the right network in errors) ---


def looks_like(address: str) -> tuple[str, Network | None, BitcoinNet | None]:
    """Best effort: (description, network, bitcoin net) of a valid address; ("", None, None) if none."""
    if _HEX40.match(address) and _evm_checksum_ok(address):
        return "an Ethereum address", Network.ERC20, None
    if _TRON_HEX.match(address):
        return "a TRON address in hex form", Network.TRC20, None
    if address[:1] == "T" and _tron_payload(address) is not None:
        return "a TRON address", Network.TRC20, None
    for net in BITCOIN_PARAMS:
        if _btc_decodes(address, net):
            name = "a Bitcoin address" if net is BitcoinNet.MAINNET else f"a Bitcoin {net.value} address"
            return name, Network.BTC, net
    return "", None, None


def _wrong_network(network: Network, address: str, btc_net: BitcoinNet) -> None:
    """Raise WrongNetworkAddress if the address is valid on another network (or another BTC net)."""
    what, found, found_net = looks_like(address)
    if found is None:
        return
    if found is network and (found is not Network.BTC or found_net is btc_net):
        return
    if found is network:  # Bitcoin, but the wrong net (testnet address on mainnet, ...)
        raise WrongNetworkAddress(
            f"this is {what}; this service uses Bitcoin {btc_net.value}. Check the address.",
            expected=f"btc-{btc_net.value}",
            found=f"btc-{found_net.value if found_net else ''}",
        )
    raise WrongNetworkAddress(
        f"this is {what}, not a {network.label} address. Funds on different networks are separate: "
        f"to send to it, choose {found.asset.value} ({found.label}) instead of {network.asset.value}.",
        expected=network.value,
        found=found.value,
    )


# --- Bitcoin ---


def _btc_decodes(address: str, net: BitcoinNet) -> bool:
    try:
        _decode_btc(address, net)
    except ValueError:
        return False
    return True


def _decode_btc(address: str, net: BitcoinNet) -> str:
    params = BITCOIN_PARAMS[net]
    if address.lower().startswith(params.hrp + "1"):
        segwit_decode(params.hrp, address)
        return address.lower()
    payload = b58check_decode(address)
    if len(payload) != 21 or payload[0] not in (params.p2pkh, params.p2sh):
        raise ValueError("not a Bitcoin base58 address for this network")
    return address


def _validate_btc(address: str, net: BitcoinNet) -> str:
    try:
        return _decode_btc(address, net)
    except ValueError as exc:
        reason = str(exc)
    _wrong_network(Network.BTC, address, net)
    if address.lower().startswith(("bc1", "tb1", "bcrt1")):
        raise InvalidAddress(f"not a valid Bitcoin address: {reason}")
    raise InvalidAddress("not a valid Bitcoin address: check every character (it starts with bc1, 1 or 3)")


# --- Ethereum (EIP-55) ---


def _evm_checksum_ok(address: str) -> bool:
    body = address[2:]
    if body == body.lower() or body == body.upper():
        return True  # no checksum information: accepted as-is
    digest = keccak(body.lower().encode()).hex()
    for char, nibble in zip(body, digest[:40], strict=True):
        if char.isalpha() and (char.isupper() != (int(nibble, 16) >= 8)):
            return False
    return True


def _validate_evm(address: str, btc_net: BitcoinNet) -> str:
    if _HEX40.match(address):
        if not _evm_checksum_ok(address):
            raise InvalidAddress(
                "the capital letters in this Ethereum address do not match its checksum (EIP-55): "
                "it was probably mistyped. Copy it again."
            )
        if int(address, 16) == 0:
            raise InvalidAddress("the zero address burns funds; enter a real Ethereum address")
        return str(to_checksum_address(address))
    _wrong_network(Network.ERC20, address, btc_net)
    if re.match(r"^(0x)?[0-9a-fA-F]*$", address):
        raise InvalidAddress("an Ethereum address is 0x followed by exactly 40 hexadecimal characters")
    raise InvalidAddress("not a valid Ethereum address: it starts with 0x and has 40 hex characters after it")


# --- TRON ---


def _tron_payload(address: str) -> bytes | None:
    try:
        payload = b58check_decode(address)
    except ValueError:
        return None
    if len(payload) != 21 or payload[0] != TRON_VERSION:
        return None
    return payload


def _validate_tron(address: str, btc_net: BitcoinNet) -> str:
    if address[:1] == "T" and _tron_payload(address) is not None:
        return address
    if _TRON_HEX.match(address):
        raise InvalidAddress("this is a TRON address in hex form; enter the base58 form that starts with T")
    _wrong_network(Network.TRC20, address, btc_net)
    if address[:1] == "T" and len(address) == 34:
        raise InvalidAddress("not a valid TRON address: the checksum does not match (a typing mistake?)")
    raise InvalidAddress("not a valid TRON address: it starts with T and has 34 characters")
