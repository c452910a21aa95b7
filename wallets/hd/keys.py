"""Private keys, for the signer worker only (never imported by API processes).

The seed is kept sealed by core.security.envelope; `account_xpubs` gives the watch-only keys that
API processes are configured with.
"""

from __future__ import annotations

from dataclasses import dataclass

from wallets.hd._bitcoinlib import HDKey, Mnemonic
from wallets.hd.derivation import RECEIVE_CHAIN, account_path, expected_key_kind, with_version
from wallets.networks import BitcoinNet, Network


def seed_from_mnemonic(mnemonic: str, passphrase: str = "") -> bytes:
    return bytes(Mnemonic().to_seed(mnemonic, passphrase))


def _derive(root: HDKey, path: str) -> HDKey:
    key = root
    for part in path.split("/")[1:]:
        hardened = part.endswith("'")
        index = int(part.rstrip("'"))
        key = key.child_private(index, hardened=hardened)
    return key


@dataclass(frozen=True)
class Seed:
    """A decrypted seed. Lives only inside the signer process; never log it."""

    value: bytes
    btc_net: BitcoinNet = BitcoinNet.MAINNET

    def __repr__(self) -> str:
        return "Seed(<redacted>)"

    def _root(self) -> HDKey:
        return HDKey.from_seed(self.value, network="bitcoin")

    def account_xpub(self, network: Network) -> str:
        """The watch-only account key to configure API processes with: the zpub (vpub on test nets)
        of m/84'/0'/0' (m/84'/1'/0') for Bitcoin, the xpub of the BIP44 account for Ethereum, TRON."""
        account = _derive(self._root(), account_path(network, self.btc_net))
        return with_version(str(account.wif_public()), expected_key_kind(network, self.btc_net))

    def private_key(self, network: Network, index: int, *, chain: int = RECEIVE_CHAIN) -> bytes:
        """The 32-byte private key of a receive (or change) address."""
        path = f"{account_path(network, self.btc_net)}/{chain}/{index}"
        return bytes(_derive(self._root(), path).private_byte)
