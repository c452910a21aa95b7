"""HD derivation, watch-only: addresses from an account-level extended public key.

Standard paths, so any standard wallet holding the seed recovers every deposit address:
- Bitcoin: BIP84 native segwit, m/84'/0'/0'/0/i (account key: zpub/vpub, or an xpub/tpub of that node)
- Ethereum: BIP44 m/44'/60'/0'/0/i (account key: the xpub of m/44'/60'/0')
- TRON: BIP44 m/44'/195'/0'/0/i (account key: the xpub of m/44'/195'/0')

API processes hold only these account xpubs; private keys live in the signer (wallets.keys).
"""

from __future__ import annotations

from functools import lru_cache

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from wallets._bitcoinlib import HDKey, hash160
from wallets.encoding import b58check_encode, segwit_encode
from wallets.errors import WalletNotConfigured
from wallets.networks import BITCOIN_PARAMS, BitcoinNet, Network

ACCOUNT_PATHS = {Network.BTC: "m/84'/0'/0'", Network.ERC20: "m/44'/60'/0'", Network.TRC20: "m/44'/195'/0'"}
TESTNET_ACCOUNT_PATHS = {Network.BTC: "m/84'/1'/0'"}
RECEIVE_CHAIN = 0
TRON_PREFIX = b"\x41"
MAX_INDEX = 2**31 - 1


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


def p2wpkh_address(compressed_pubkey: bytes, net: BitcoinNet) -> str:
    return segwit_encode(BITCOIN_PARAMS[net].hrp, 0, hash160(compressed_pubkey))


def evm_address_from_pubkey(uncompressed_pubkey: bytes) -> str:
    """EIP-55 checksummed Ethereum address from a 65-byte (0x04...) public key."""
    return to_checksum_address(keccak(uncompressed_pubkey[1:])[-20:])


def tron_address_from_pubkey(uncompressed_pubkey: bytes) -> str:
    return b58check_encode(TRON_PREFIX + keccak(uncompressed_pubkey[1:])[-20:])


def btc_address(account_key: str, index: int, *, net: BitcoinNet = BitcoinNet.MAINNET, chain: int = 0) -> str:
    return p2wpkh_address(child_public_key(account_key, index, chain=chain).public_byte, net)


def evm_address(account_key: str, index: int, *, chain: int = RECEIVE_CHAIN) -> str:
    return evm_address_from_pubkey(child_public_key(account_key, index, chain=chain).public_uncompressed_byte)


def tron_address(account_key: str, index: int, *, chain: int = RECEIVE_CHAIN) -> str:
    return tron_address_from_pubkey(
        child_public_key(account_key, index, chain=chain).public_uncompressed_byte
    )


class AddressDeriver:
    """Derives receive addresses per network from configured account xpubs."""

    def __init__(self, account_keys: dict[Network, str], *, btc_net: BitcoinNet = BitcoinNet.MAINNET) -> None:
        self._keys = {network: key for network, key in account_keys.items() if key}
        self.btc_net = btc_net

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
        base = ACCOUNT_PATHS[network]
        if network is Network.BTC and self.btc_net is not BitcoinNet.MAINNET:
            base = TESTNET_ACCOUNT_PATHS[network]
        return f"{base}/{RECEIVE_CHAIN}/{index}"
