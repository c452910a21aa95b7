"""Argon2id hashing for PINs, passwords and OTPs (argon2-cffi's PasswordHasher, type Argon2id).

Every hash carries its own parameters, so a hash made with older parameters still verifies; after
a successful check, `needs_rehash` says whether to store a new hash of the secret just checked
(rehash on login). Tests may install cheaper parameters with `use_fast_hashing()`: `needs_rehash`
and `verify_dummy` always follow the parameters in force.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet's Argon2id baseline, m=19456 KiB (19 MiB), t=2, p=1
# (https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html): 21-27 ms of
# CPU per check on a 2-core machine, against 150-175 ms for argon2-cffi's defaults (m=64 MiB, t=3,
# p=4; p=4 on 2 cores only adds CPU), which capped money confirmations near 11/s. A 4-digit PIN has
# 10,000 values whatever the cost: its safety is the lockout (core/identity/pin.py), not the hash.
TIME_COST = 2
MEMORY_COST_KIB = 19_456
PARALLELISM = 1

_DUMMY_SECRET = "kibeti-dummy-secret-for-timing"  # noqa: S105 (hashed for timing, guards nothing)


def _production_hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, type=Type.ID
    )


_hasher = _production_hasher()
# Checked instead of a real hash when there is none (unknown email, locked account), so such an
# answer takes as long as a real check. Made with the parameters in force, re-made when they change.
_dummy_hash = _hasher.hash(_DUMMY_SECRET)


def use_fast_hashing() -> None:
    """Cheap Argon2id parameters, for tests only."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    _dummy_hash = _hasher.hash(_DUMMY_SECRET)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    """True when `secret` matches `stored_hash`. Never raises on a mismatch or a bad hash."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether `stored_hash` was made with other parameters than those in force (cheap: parses the
    hash's header, hashes nothing). Ask after a successful check only: the caller then holds the
    secret and can store `hash_secret(secret)`. An unreadable hash cannot have verified; True."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def verify_dummy(secret: str) -> None:
    """Spend the time of one real check (the parameters in force) when there is no hash to check."""
    verify_secret(_dummy_hash, secret)
