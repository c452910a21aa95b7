"""bitcoinlib, imported once with its import-time noise silenced.

bitcoinlib 0.7 uses deprecated SQLAlchemy APIs and leaves a file open at import; those warnings are
its own, not ours, and would otherwise fail any process running with warnings as errors.
"""

from __future__ import annotations

import logging
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from bitcoinlib.encoding import hash160
    from bitcoinlib.keys import HDKey, Key
    from bitcoinlib.mnemonic import Mnemonic
    from bitcoinlib.transactions import Transaction

logging.getLogger("bitcoinlib").setLevel(logging.ERROR)

__all__ = ["HDKey", "Key", "Mnemonic", "Transaction", "hash160"]
