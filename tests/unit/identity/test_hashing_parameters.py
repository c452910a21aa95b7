"""Production Argon2id parameters (OWASP's baseline) and the checks that follow the hasher in force."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from core.security import hashing


def test_production_parameters_are_owasps_argon2id_baseline() -> None:
    stored = hashing._production_hasher().hash("4821")
    parameters = extract_parameters(stored)
    assert stored.startswith("$argon2id$") and parameters.type is Type.ID
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19_456, 2, 1)


def test_a_hash_with_argon2_cffis_old_defaults_needs_a_rehash_under_production_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production = hashing._production_hasher()
    monkeypatch.setattr(hashing, "_hasher", production)
    legacy = PasswordHasher(time_cost=3, memory_cost=65_536, parallelism=4).hash("4821")  # before the change
    assert hashing.verify_secret(legacy, "4821")  # still verifies: the hash carries its parameters
    assert hashing.needs_rehash(legacy)
    assert not hashing.needs_rehash(production.hash("4821"))
    assert hashing.needs_rehash("not an argon2 hash")


def test_the_timing_dummy_is_made_with_the_parameters_in_force() -> None:
    hashing.use_fast_hashing()  # this package's conftest does the same
    assert not hashing.needs_rehash(hashing._dummy_hash)
    hashing.verify_dummy("anything")  # never raises
