"""The audit chain's keys, derived from the envelope keyring (core.security): never stored anywhere.

Per keyring key id: an HMAC-SHA256 key that seals each row's hash (so nobody without the key can
append a forged row or rewrite the chain with recomputed hashes) and an Ed25519 key that signs the
published checkpoints of the chain's head (anyone holding the public key can check a checkpoint).

The keys come from the environment's settings (MASTER_PASSPHRASE, else the development fallback),
derived once per process and passphrase; `install` pins a keyring explicitly.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from core.config import Settings
from core.security.envelope import Keyring
from core.security.errors import EnvelopeError

_CHAIN_SALT = b"kibeti/audit/chain-hmac/v1"
_CHECKPOINT_SALT = b"kibeti/audit/checkpoint-ed25519/v1"


class UnknownAuditKey(EnvelopeError):
    code = "audit_unknown_key"


@dataclass
class AuditKeys:
    keyring: Keyring
    _hmac: dict[str, bytes] = field(default_factory=dict, repr=False)
    _signing: dict[str, Ed25519PrivateKey] = field(default_factory=dict, repr=False)

    @property
    def current(self) -> str:
        return self.keyring.current

    def knows(self, kid: str) -> bool:
        return kid in self.keyring.passphrases

    def _derive(self, kid: str, salt: bytes) -> bytes:
        if not self.knows(kid):
            raise UnknownAuditKey(f"audit key {kid or '(none)'} is not in the keyring")
        return self.keyring.key(kid, salt, self.keyring.iterations)

    def mac(self, kid: str, message: bytes) -> str:
        if kid not in self._hmac:
            self._hmac[kid] = self._derive(kid, _CHAIN_SALT)
        return hmac.new(self._hmac[kid], message, hashlib.sha256).hexdigest()

    def signing_key(self, kid: str) -> Ed25519PrivateKey:
        if kid not in self._signing:
            self._signing[kid] = Ed25519PrivateKey.from_private_bytes(self._derive(kid, _CHECKPOINT_SALT))
        return self._signing[kid]

    def public_key(self, kid: str) -> Ed25519PublicKey:
        return self.signing_key(kid).public_key()

    def public_key_hex(self, kid: str) -> str:
        raw = self.public_key(kid).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw.hex()


_installed: AuditKeys | None = None
_lock = threading.Lock()


def install(keyring: Keyring | None) -> AuditKeys | None:
    """Use this keyring for the process (None: back to the settings' keyring)."""
    global _installed
    with _lock:
        _installed = AuditKeys(keyring) if keyring is not None else None
        return _installed


def _settings_fingerprint(settings: Settings) -> str:
    material = "|".join(
        [
            settings.master_passphrase.get_secret_value(),
            settings.secret_key.get_secret_value(),
            settings.kibeti_env,
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


_by_settings: dict[str, AuditKeys] = {}


def keys_for_settings(settings: Settings) -> AuditKeys:
    """One AuditKeys per distinct passphrase (PBKDF2 is deliberately slow: derive once per process)."""
    from core.security.keyring import keyring_from_settings

    fingerprint = _settings_fingerprint(settings)
    with _lock:
        found = _by_settings.get(fingerprint)
    if found is None:
        found = AuditKeys(keyring_from_settings(settings))
        with _lock:
            _by_settings[fingerprint] = found
    return found


def current_keys() -> AuditKeys:
    """The explicitly installed keys, else those of the process's settings (the environment: the
    settings every Kibeti process is built from, so the web app, workers and CLI agree)."""
    from core.config import get_settings

    if _installed is not None:
        return _installed
    return keys_for_settings(get_settings())


def warm() -> None:
    """Derive the current chain key now (PBKDF2): a worker's main process calls this before it
    forks work-horses, so no job pays the derivation."""
    keys = current_keys()
    keys.mac(keys.current, b"")
