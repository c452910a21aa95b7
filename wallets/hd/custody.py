"""Key custody: the HD seed is kept sealed (core.security.envelope, AES-GCM under a PBKDF2 key)
and opened only inside the signer worker. API processes are configured with account xpubs only.
"""

from __future__ import annotations

from core.security import envelope
from wallets.hd.keys import Seed
from wallets.networks import BitcoinNet

SEED_CONTEXT = "wallets:hd-seed:v1"


def seal_seed(seed: bytes, *, keyring: envelope.Keyring) -> str:
    return envelope.seal(seed, keyring=keyring, context=SEED_CONTEXT)


def open_seed(sealed: str, *, keyring: envelope.Keyring, btc_net: BitcoinNet = BitcoinNet.MAINNET) -> Seed:
    """Decrypt the seed (signer only). Raises core.security.errors.EnvelopeError if tampered or wrong key."""
    return Seed(envelope.open(sealed, keyring=keyring, context=SEED_CONTEXT), btc_net=btc_net)
