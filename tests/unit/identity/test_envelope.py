from __future__ import annotations

import pytest

from core.config import Settings
from core.security import envelope
from core.security.envelope import DEFAULT_ITERATIONS, Keyring
from core.security.errors import EnvelopeError, KeyringError
from core.security.keyring import keyring_from_settings

FAST = 1_000


def ring(current: str = "correct horse battery staple", previous: tuple[str, ...] = ()) -> Keyring:
    return Keyring.from_passphrases(current, previous, iterations=FAST)


def test_production_default_is_at_least_600k() -> None:
    assert DEFAULT_ITERATIONS >= 600_000


def test_round_trip_and_format() -> None:
    keyring = ring()
    sealed = envelope.seal(b"xprv9s21ZrQH143K...", keyring=keyring, context="wallet:btc")
    assert sealed.startswith("kbt-env:v1:")
    assert "xprv9s21ZrQH143K" not in sealed  # (a random ciphertext may hold a short "xprv" by chance)
    assert envelope.open(sealed, keyring=keyring, context="wallet:btc") == b"xprv9s21ZrQH143K..."


def test_two_seals_differ() -> None:
    keyring = ring()
    assert envelope.seal("same", keyring=keyring) != envelope.seal("same", keyring=keyring)


def test_wrong_context_or_key_or_tamper_fails() -> None:
    keyring = ring()
    sealed = envelope.seal("seed words", keyring=keyring, context="a")
    with pytest.raises(EnvelopeError):
        envelope.open(sealed, keyring=keyring, context="b")
    with pytest.raises(EnvelopeError):
        envelope.open(sealed, keyring=ring("another passphrase"), context="a")
    head, _, tail = sealed.rpartition(":")
    flipped = tail[:-2] + ("A" if tail[-2] != "A" else "B") + tail[-1]
    with pytest.raises(EnvelopeError):
        envelope.open(f"{head}:{flipped}", keyring=keyring, context="a")
    with pytest.raises(EnvelopeError):
        envelope.open("garbage", keyring=keyring)
    with pytest.raises(EnvelopeError):
        envelope.open(sealed.replace(":v1:", ":v9:"), keyring=keyring, context="a")


def test_rotation_reseals_under_new_key() -> None:
    old = ring("old passphrase one")
    sealed = envelope.seal("mpesa-secret", keyring=old, context="daraja")
    new = ring("new passphrase two", previous=("old passphrase one",))
    assert envelope.needs_rotation(sealed, keyring=new)
    rotated = envelope.rotate(sealed, keyring=new, context="daraja")
    assert envelope.key_id_of(rotated) == new.current != envelope.key_id_of(sealed)
    assert not envelope.needs_rotation(rotated, keyring=new)
    only_new = ring("new passphrase two")
    assert envelope.open(rotated, keyring=only_new, context="daraja") == b"mpesa-secret"
    with pytest.raises(EnvelopeError):
        envelope.open(sealed, keyring=only_new, context="daraja")
    assert envelope.rotate(rotated, keyring=new, context="daraja") == rotated


def test_keyring_requires_passphrase_in_production() -> None:
    settings = Settings(kibeti_env="production")
    with pytest.raises(KeyringError):
        keyring_from_settings(settings, iterations=FAST)
    settings = Settings(kibeti_env="production", master_passphrase="a long master passphrase")
    with pytest.raises(KeyringError):
        keyring_from_settings(settings, iterations=FAST)


def test_dev_keyring_works_without_passphrase() -> None:
    keyring = keyring_from_settings(Settings(kibeti_env="development"), iterations=FAST)
    assert envelope.open(envelope.seal("x", keyring=keyring), keyring=keyring) == b"x"
