"""PIN rules: format, trivial-PIN refusal, Argon2id hashing and the lockout back-off schedule."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from core.identity.errors import InvalidPin, TrivialPin
from core.security.hashing import hash_secret, verify_secret

PIN_LENGTH = 4
MAX_TRIES_BEFORE_LOCK = 3
BASE_LOCKOUT = timedelta(minutes=5)
MAX_LOCKOUT = timedelta(hours=24)
RESET_COOLDOWN = timedelta(hours=24)

COMMON_PINS = frozenset(
    {"1212", "1122", "1313", "2000", "2001", "1010", "6969", "1004", "2580", "0852", "1369", "7410"}
)


def check_format(pin: str) -> None:
    if len(pin) != PIN_LENGTH or not pin.isascii() or not pin.isdigit():
        raise InvalidPin("a PIN is exactly 4 digits")


def _is_sequence(pin: str) -> bool:
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {-1})


def is_trivial(pin: str, *, phone: str = "") -> bool:
    """Repeated digits, straight runs, very common PINs and the phone number's last four."""
    if len(set(pin)) == 1 or _is_sequence(pin) or pin in COMMON_PINS:
        return True
    digits = "".join(ch for ch in phone if ch.isdigit())
    return len(digits) >= PIN_LENGTH and pin == digits[-PIN_LENGTH:]


def check_new_pin(pin: str, *, phone: str) -> None:
    check_format(pin)
    if is_trivial(pin, phone=phone):
        raise TrivialPin("choose a PIN that is harder to guess")


def hash_pin(pin: str) -> str:
    return hash_secret(pin)


def pin_matches(pin_hash: str, pin: str) -> bool:
    return verify_secret(pin_hash, pin)


# Argon2id (19 MiB, t=2: 21-27 ms of CPU, far more wall time on a busy machine) in a worker thread:
# on the event loop it would stall every request the process is serving, USSD hops included.
# argon2-cffi releases the GIL while it hashes.


async def hash_pin_in_thread(pin: str) -> str:
    return await asyncio.to_thread(hash_pin, pin)


async def pin_matches_in_thread(pin_hash: str, pin: str) -> bool:
    return await asyncio.to_thread(pin_matches, pin_hash, pin)


def lockout_for(failed_count: int) -> timedelta | None:
    """No lock below 3 failures; then 5 min, doubling with each further failure, capped at 24 h."""
    if failed_count < MAX_TRIES_BEFORE_LOCK:
        return None
    exponent = min(failed_count - MAX_TRIES_BEFORE_LOCK, 16)
    lock: timedelta = BASE_LOCKOUT * int(2**exponent)
    return min(lock, MAX_LOCKOUT)
