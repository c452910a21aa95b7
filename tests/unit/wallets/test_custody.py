"""The HD seed is sealed with the envelope and opens only with the right key and context."""

from __future__ import annotations

import pytest

from core.security import envelope
from core.security.errors import EnvelopeError
from wallets.hd.custody import open_seed, seal_seed
from wallets.hd.keys import seed_from_mnemonic
from wallets.networks import Network

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def test_seal_and_open_seed() -> None:
    keyring = envelope.Keyring.from_passphrases("correct horse battery staple", iterations=1_000)
    raw = seed_from_mnemonic(MNEMONIC)
    sealed = seal_seed(raw, keyring=keyring)
    assert raw.hex() not in sealed
    seed = open_seed(sealed, keyring=keyring)
    assert seed.value == raw
    assert seed.account_xpub(Network.BTC).startswith("zpub6rFR7y4Q2AijBEqTUquhVz398htDFrty")
    wrong = envelope.Keyring.from_passphrases("another passphrase entirely", iterations=1_000)
    with pytest.raises(EnvelopeError):
        open_seed(sealed, keyring=wrong)
    other_context = envelope.seal(raw, keyring=keyring, context="something-else")
    with pytest.raises(EnvelopeError):
        open_seed(other_context, keyring=keyring)
