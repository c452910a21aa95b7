"""Build the envelope keyring from settings (the master passphrase)."""

from __future__ import annotations

from collections.abc import Iterable

from core.config import Settings
from core.security.envelope import DEFAULT_ITERATIONS, MIN_PRODUCTION_ITERATIONS, Keyring
from core.security.errors import KeyringError

_DEV_PREFIX = "kibeti-dev-master:"


def keyring_from_settings(
    settings: Settings, *, previous: Iterable[str] = (), iterations: int = DEFAULT_ITERATIONS
) -> Keyring:
    """The current master passphrase seals; `previous` ones still open (for `kibeti keys rotate`).

    Outside production an unset MASTER_PASSPHRASE falls back to one derived from SECRET_KEY, so the
    embedded default runs; production refuses it and refuses fewer than 600,000 iterations.
    """
    passphrase = settings.master_passphrase.get_secret_value()
    if settings.is_production:
        if not passphrase:
            raise KeyringError("MASTER_PASSPHRASE is not set; production needs it")
        if iterations < MIN_PRODUCTION_ITERATIONS:
            raise KeyringError("PBKDF2 iterations below 600,000 are refused in production")
    if not passphrase:
        passphrase = _DEV_PREFIX + settings.secret_key.get_secret_value()
    return Keyring.from_passphrases(passphrase, previous, iterations=iterations)
