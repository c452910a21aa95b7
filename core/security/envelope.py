"""Secret envelopes: AES-256-GCM under a key derived from a master passphrase with PBKDF2-HMAC-SHA256.

Text format (version 1), fields separated by ":" and base64url without padding::

    kbt-env:v1:<key id>:<iterations>:<salt>:<nonce>:<ciphertext+tag>

Everything before the nonce is authenticated (AES-GCM associated data), together with an optional
caller-chosen `context` (e.g. "wallet:btc:xprv") so an envelope cannot be swapped for another.
A keyring holds the current key and any previous ones; `rotate` re-seals under the current key.
Derived keys are cached per (key id, salt, iterations), so one process pays PBKDF2 once per salt.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.security.errors import EnvelopeError, KeyringError

PREFIX = "kbt-env"
VERSION = "v1"
DEFAULT_ITERATIONS = 600_000
MIN_PRODUCTION_ITERATIONS = 600_000
_KID_SALT = b"kibeti/envelope/key-id/v1"
_SALT_BYTES = 16
_NONCE_BYTES = 12


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise EnvelopeError("envelope field is not base64url") from exc


def derive_key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, iterations, dklen=32)


def key_id(passphrase: str, iterations: int) -> str:
    """A short public identifier of a passphrase (itself PBKDF2-derived: no shortcut to guessing)."""
    return derive_key(passphrase, _KID_SALT, iterations)[:6].hex()


@dataclass
class Keyring:
    """Passphrases by key id; `current` seals, every key opens."""

    passphrases: dict[str, str]
    current: str
    iterations: int = DEFAULT_ITERATIONS
    _salt: bytes = field(default_factory=lambda: secrets.token_bytes(_SALT_BYTES), repr=False)
    _cache: dict[tuple[str, bytes, int], bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.passphrases:
            raise KeyringError("the current key id is not in the keyring")
        if self.iterations < 1:
            raise KeyringError("PBKDF2 iterations must be positive")

    @classmethod
    def from_passphrases(
        cls, current: str, previous: Iterable[str] = (), *, iterations: int = DEFAULT_ITERATIONS
    ) -> Keyring:
        if not current:
            raise KeyringError("MASTER_PASSPHRASE is not set: secrets cannot be sealed or opened")
        keys = {key_id(p, iterations): p for p in previous if p}
        current_id = key_id(current, iterations)
        keys[current_id] = current
        return cls(passphrases=keys, current=current_id, iterations=iterations)

    def key(self, kid: str, salt: bytes, iterations: int) -> bytes:
        passphrase = self.passphrases.get(kid)
        if passphrase is None:
            raise EnvelopeError(f"envelope sealed under unknown key {kid}")
        cache_key = (kid, salt, iterations)
        if cache_key not in self._cache:
            self._cache[cache_key] = derive_key(passphrase, salt, iterations)
        return self._cache[cache_key]

    @property
    def sealing_salt(self) -> bytes:
        return self._salt


def _aad(header: str, context: str) -> bytes:
    return f"{header}|{context}".encode()


def seal(plaintext: bytes | str, *, keyring: Keyring, context: str = "") -> str:
    """Encrypt `plaintext` under the keyring's current key; returns the envelope text."""
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    salt = keyring.sealing_salt
    header = ":".join([PREFIX, VERSION, keyring.current, str(keyring.iterations), _b64e(salt)])
    key = keyring.key(keyring.current, salt, keyring.iterations)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, data, _aad(header, context))
    return f"{header}:{_b64e(nonce)}:{_b64e(sealed)}"


@dataclass(frozen=True)
class _Parsed:
    header: str
    kid: str
    iterations: int
    salt: bytes
    nonce: bytes
    sealed: bytes


def _parse(envelope: str) -> _Parsed:
    parts = envelope.split(":")
    if len(parts) != 7 or parts[0] != PREFIX:
        raise EnvelopeError("not a Kibeti envelope")
    if parts[1] != VERSION:
        raise EnvelopeError(f"unsupported envelope version {parts[1]}")
    try:
        iterations = int(parts[3])
    except ValueError as exc:
        raise EnvelopeError("envelope iterations field is not a number") from exc
    return _Parsed(
        header=":".join(parts[:5]),
        kid=parts[2],
        iterations=iterations,
        salt=_b64d(parts[4]),
        nonce=_b64d(parts[5]),
        sealed=_b64d(parts[6]),
    )


def open(envelope: str, *, keyring: Keyring, context: str = "") -> bytes:
    """Decrypt an envelope sealed under any key in the keyring. Raises EnvelopeError."""
    parsed = _parse(envelope)
    key = keyring.key(parsed.kid, parsed.salt, parsed.iterations)
    try:
        return AESGCM(key).decrypt(parsed.nonce, parsed.sealed, _aad(parsed.header, context))
    except (InvalidTag, ValueError) as exc:
        raise EnvelopeError("envelope failed authentication (wrong key, context or tampered)") from exc


def key_id_of(envelope: str) -> str:
    return _parse(envelope).kid


def needs_rotation(envelope: str, *, keyring: Keyring) -> bool:
    parsed = _parse(envelope)
    return parsed.kid != keyring.current or parsed.iterations != keyring.iterations


def rotate(envelope: str, *, keyring: Keyring, context: str = "") -> str:
    """Re-seal under the current key (a no-op when already current)."""
    if not needs_rotation(envelope, keyring=keyring):
        return envelope
    return seal(open(envelope, keyring=keyring, context=context), keyring=keyring, context=context)
