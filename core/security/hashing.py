"""Argon2id hashing for PINs, passwords and OTPs (argon2-cffi's PasswordHasher is Argon2id).

Tests may install cheaper parameters with `use_fast_hashing()`; production keeps the library
defaults (time_cost=3, memory_cost=64 MiB).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def use_fast_hashing() -> None:
    """Cheap Argon2id parameters, for tests only."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    """True when `secret` matches `stored_hash`. Never raises on a mismatch or a bad hash."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
