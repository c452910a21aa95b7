"""Invoices derive three addresses each: the libsecp256k1 CKDpub (wallets.hd.derivation) gives the
same keys as bitcoinlib's, on both chains, for every network."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wallets.hd.derivation import _child_point, child_public_key
from wallets.hd.keys import Seed, seed_from_mnemonic
from wallets.networks import Network

SEED = Seed(seed_from_mnemonic("abandon " * 11 + "about"))
KEYS = {network: SEED.account_xpub(network) for network in Network}


@settings(max_examples=60, deadline=None)
@given(network=st.sampled_from(list(Network)), index=st.integers(0, 2**31 - 1), chain=st.sampled_from([0, 1]))
def test_fast_derivation_matches_bitcoinlib(network: Network, index: int, chain: int) -> None:
    slow = child_public_key(KEYS[network], index, chain=chain)
    fast = _child_point(KEYS[network], index, chain)
    assert fast.format(compressed=True) == slow.public_byte
    assert fast.format(compressed=False) == slow.public_uncompressed_byte
