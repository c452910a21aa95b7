from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.identity import pin
from core.identity.errors import InvalidPin, TrivialPin


@pytest.mark.parametrize(
    "value", ["0000", "1111", "9999", "1234", "2345", "4321", "9876", "0123", "1212", "2580"]
)
def test_trivial_pins_refused(value: str) -> None:
    with pytest.raises(TrivialPin):
        pin.check_new_pin(value, phone="+254712345678")


def test_phone_last_four_refused() -> None:
    with pytest.raises(TrivialPin):
        pin.check_new_pin("5678", phone="+254712340000".replace("0000", "5678"))


@pytest.mark.parametrize("value", ["", "123", "12345", "12a4", "abcd", " 123", "１２３４", "12.4", "-123"])
def test_malformed_pins_refused(value: str) -> None:
    with pytest.raises(InvalidPin) as info:
        pin.check_new_pin(value, phone="+254712345678")
    assert info.value.code == "invalid_pin"


@pytest.mark.parametrize("value", ["4821", "7395", "0492", "8163"])
def test_reasonable_pins_accepted(value: str) -> None:
    pin.check_new_pin(value, phone="+254712345678")


def test_hash_is_argon2id_and_verifies() -> None:
    hashed = pin.hash_pin("4821")
    assert hashed.startswith("$argon2id$")
    assert "4821" not in hashed.split("$")  # not stored as a field (the random salt may hold "4821")
    assert pin.pin_matches(hashed, "4821")
    assert not pin.pin_matches(hashed, "4822")
    assert not pin.pin_matches("not-a-hash", "4821")


def test_lockout_schedule_grows_and_caps() -> None:
    assert pin.lockout_for(1) is None
    assert pin.lockout_for(2) is None
    assert pin.lockout_for(3) == timedelta(minutes=5)
    assert pin.lockout_for(4) == timedelta(minutes=10)
    assert pin.lockout_for(5) == timedelta(minutes=20)
    assert pin.lockout_for(50) == timedelta(hours=24)


@given(st.text(max_size=8))
def test_format_accepts_exactly_four_ascii_digits(text: str) -> None:
    well_formed = len(text) == 4 and all(ch in "0123456789" for ch in text)
    try:
        pin.check_format(text)
    except InvalidPin:
        assert not well_formed
    else:
        assert well_formed
