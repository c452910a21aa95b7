"""HD derivation, watch-only: addresses from an account-level extended public key.

Standard paths, so any standard wallet holding the seed recovers every deposit address:
- Bitcoin: BIP84 native segwit, m/84'/0'/0'/0/i (account key: zpub/vpub, or an xpub/tpub of that node)
- Ethereum: BIP44 m/44'/60'/0'/0/i (account key: the xpub of m/44'/60'/0')
- TRON: BIP44 m/44'/195'/0'/0/i (account key: the xpub of m/44'/195'/0')

API processes hold only these account xpubs; private keys live in the signer (wallets.hd.keys).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from coincurve import PublicKey
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from wallets.errors import WalletNotConfigured
from wallets.hd._bitcoinlib import HDKey, hash160
from wallets.hd.encoding import b58check_decode, b58check_encode, segwit_encode
from wallets.networks import BITCOIN_PARAMS, BitcoinNet, Network

ACCOUNT_PATHS = {Network.BTC: "m/84'/0'/0'", Network.ERC20: "m/44'/60'/0'", Network.TRC20: "m/44'/195'/0'"}
TESTNET_ACCOUNT_PATHS = {Network.BTC: "m/84'/1'/0'"}
RECEIVE_CHAIN = 0
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
TRON_PREFIX = b"\x41"
MAX_INDEX = 2**31 - 1
HARDENED = 2**31
ACCOUNT_DEPTH = 3

# SLIP-132 version bytes of extended keys: prefix -> (name, network family, script type, private)
KEY_VERSIONS: dict[bytes, tuple[str, str, str, bool]] = {
    bytes.fromhex("0488b21e"): ("xpub", "mainnet", "legacy P2PKH (BIP44)", False),
    bytes.fromhex("049d7cb2"): ("ypub", "mainnet", "wrapped segwit P2SH-P2WPKH (BIP49)", False),
    bytes.fromhex("04b24746"): ("zpub", "mainnet", "native segwit P2WPKH (BIP84)", False),
    bytes.fromhex("043587cf"): ("tpub", "testnet", "legacy P2PKH (BIP44)", False),
    bytes.fromhex("044a5262"): ("upub", "testnet", "wrapped segwit P2SH-P2WPKH (BIP49)", False),
    bytes.fromhex("045f1cf6"): ("vpub", "testnet", "native segwit P2WPKH (BIP84)", False),
    bytes.fromhex("0488ade4"): ("xprv", "mainnet", "legacy P2PKH (BIP44)", True),
    bytes.fromhex("049d7878"): ("yprv", "mainnet", "wrapped segwit P2SH-P2WPKH (BIP49)", True),
    bytes.fromhex("04b2430c"): ("zprv", "mainnet", "native segwit P2WPKH (BIP84)", True),
    bytes.fromhex("04358394"): ("tprv", "testnet", "legacy P2PKH (BIP44)", True),
    bytes.fromhex("044a4e28"): ("uprv", "testnet", "wrapped segwit P2SH-P2WPKH (BIP49)", True),
    bytes.fromhex("045f18bc"): ("vprv", "testnet", "native segwit P2WPKH (BIP84)", True),
}
VERSION_OF = {name: version for version, (name, _, _, private) in KEY_VERSIONS.items() if not private}


def account_path(network: Network, btc_net: BitcoinNet = BitcoinNet.MAINNET) -> str:
    if network is Network.BTC and btc_net is not BitcoinNet.MAINNET:
        return TESTNET_ACCOUNT_PATHS[network]
    return ACCOUNT_PATHS[network]


def expected_key_kind(network: Network, btc_net: BitcoinNet) -> str:
    """BIP84 zpub (vpub on test nets) for Bitcoin; the BIP44 xpub for Ethereum and TRON."""
    if network is Network.BTC:
        return "zpub" if btc_net is BitcoinNet.MAINNET else "vpub"
    return "xpub"


def with_version(extended_key: str, kind: str) -> str:
    """The same key serialised under another SLIP-132 version (e.g. a zpub as the vpub of test nets)."""
    return b58check_encode(VERSION_OF[kind] + b58check_decode(extended_key)[4:])


def check_account_key(key: str, network: Network, *, btc_net: BitcoinNet, setting: str) -> str:
    """Refuse anything but the watch-only account key of `network` (its checksum, version bytes for
    the network and script type, depth 3 at account 0'), naming `setting`; returns the key."""
    path, kind = account_path(network, btc_net), expected_key_kind(network, btc_net)
    wanted = f"the {kind} of {path}"
    try:
        raw = b58check_decode(key.strip())
    except ValueError as exc:
        raise WalletNotConfigured(
            f"{setting} is not a valid extended key ({exc}); set it to {wanted}"
        ) from exc
    if len(raw) != 78:
        raise WalletNotConfigured(
            f"{setting} is not an extended key ({len(raw)} bytes, not 78); set it to {wanted}"
        )
    found = KEY_VERSIONS.get(raw[:4])
    if found is None:
        raise WalletNotConfigured(f"{setting} has unknown version bytes {raw[:4].hex()}; set it to {wanted}")
    name, family, script, private = found
    if private:
        raise WalletNotConfigured(
            f"{setting} is an extended PRIVATE key ({name}); API processes take only {wanted}"
        )
    if name != kind:
        on = f" with BITCOIN_NET={btc_net.value}" if network is Network.BTC else ""
        raise WalletNotConfigured(
            f"{setting} is a {name} ({family} {script}) but {network.label}{on} needs {wanted}"
        )
    depth, child = raw[4], int.from_bytes(raw[9:13], "big")
    if depth != ACCOUNT_DEPTH:
        raise WalletNotConfigured(
            f"{setting} is a depth-{depth} key; it must be the account-level key (depth 3): {wanted}"
        )
    if child != HARDENED:
        shown = f"{child - HARDENED}'" if child >= HARDENED else str(child)
        raise WalletNotConfigured(f"{setting} is account {shown}, not account 0': set it to {wanted}")
    if raw[45] not in (2, 3):
        raise WalletNotConfigured(f"{setting} does not hold a compressed public key; set it to {wanted}")
    try:
        HDKey(key.strip())
    except Exception as exc:  # bitcoinlib raises a variety of errors for a point off the curve
        raise WalletNotConfigured(f"{setting} holds an invalid public key; set it to {wanted}") from exc
    return key.strip()


@lru_cache(maxsize=64)
def _chain_key(account_key: str, chain: int) -> HDKey:
    try:
        account = HDKey(account_key)
    except Exception as exc:  # bitcoinlib raises a variety of errors for bad keys
        raise WalletNotConfigured(f"not a valid extended public key: {account_key[:8]}...") from exc
    if account.is_private:
        raise WalletNotConfigured("an extended PRIVATE key was given where a watch-only xpub belongs")
    return account.child_public(chain)


def child_public_key(account_key: str, index: int, *, chain: int = RECEIVE_CHAIN) -> HDKey:
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"derivation index {index} out of range")
    return _chain_key(account_key, chain).child_public(index)


def _child_point(account_key: str, index: int, chain: int) -> PublicKey:
    """BIP32 CKDpub with libsecp256k1 (coincurve): the same key as `child_public_key`, ~50x faster
    (bitcoinlib's pure-Python point maths cost ~5 ms an address, three per merchant invoice)."""
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"derivation index {index} out of range")
    parent = _chain_key(account_key, chain)
    digest = hmac.new(parent.chain, parent.public_byte + index.to_bytes(4, "big"), hashlib.sha512).digest()
    if int.from_bytes(digest[:32], "big") >= SECP256K1_ORDER:  # probability < 2**-127 (BIP32: skip)
        raise ValueError(f"derivation index {index} gives an invalid key; use the next one")
    return PublicKey(parent.public_byte).add(digest[:32])


def p2wpkh_address(compressed_pubkey: bytes, net: BitcoinNet) -> str:
    return segwit_encode(BITCOIN_PARAMS[net].hrp, 0, hash160(compressed_pubkey))


def evm_address_from_pubkey(uncompressed_pubkey: bytes) -> str:
    """EIP-55 checksummed Ethereum address from a 65-byte (0x04...) public key."""
    return to_checksum_address(keccak(uncompressed_pubkey[1:])[-20:])


def tron_address_from_pubkey(uncompressed_pubkey: bytes) -> str:
    return b58check_encode(TRON_PREFIX + keccak(uncompressed_pubkey[1:])[-20:])


def btc_address(account_key: str, index: int, *, net: BitcoinNet = BitcoinNet.MAINNET, chain: int = 0) -> str:
    return p2wpkh_address(_child_point(account_key, index, chain).format(compressed=True), net)


def evm_address(account_key: str, index: int, *, chain: int = RECEIVE_CHAIN) -> str:
    return evm_address_from_pubkey(_child_point(account_key, index, chain).format(compressed=False))


def tron_address(account_key: str, index: int, *, chain: int = RECEIVE_CHAIN) -> str:
    return tron_address_from_pubkey(_child_point(account_key, index, chain).format(compressed=False))


class AddressDeriver:
    """Derives receive addresses per network from configured account xpubs, each checked first
    (`check_account_key`); `demo` marks the public development keys (never fund those addresses)."""

    def __init__(
        self,
        account_keys: dict[Network, str],
        *,
        btc_net: BitcoinNet = BitcoinNet.MAINNET,
        settings: dict[Network, str] | None = None,
        demo: bool = False,
    ) -> None:
        names = settings or {}
        self._keys = {
            network: check_account_key(
                key, network, btc_net=btc_net, setting=names.get(network, network.label)
            )
            for network, key in account_keys.items()
            if key
        }
        self.btc_net = btc_net
        self.demo = demo

    def has(self, network: Network) -> bool:
        return network in self._keys

    def address(self, network: Network, index: int, *, chain: int = RECEIVE_CHAIN) -> str:
        key = self._keys.get(network)
        if key is None:
            raise WalletNotConfigured(f"no account xpub configured for {network.label}")
        if network is Network.BTC:
            return btc_address(key, index, net=self.btc_net, chain=chain)
        if network is Network.ERC20:
            return evm_address(key, index, chain=chain)
        return tron_address(key, index, chain=chain)

    def path(self, network: Network, index: int) -> str:
        return f"{account_path(network, self.btc_net)}/{RECEIVE_CHAIN}/{index}"
