from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import mask_phone, normalize_phone

VALID = [
    ("0712345678", "+254712345678"),
    ("0722000111", "+254722000111"),
    ("0791234567", "+254791234567"),
    ("0757123456", "+254757123456"),
    ("0110123456", "+254110123456"),
    ("0111234567", "+254111234567"),
    ("0101234567", "+254101234567"),
    ("254712345678", "+254712345678"),
    ("254110123456", "+254110123456"),
    ("+254712345678", "+254712345678"),
    ("+254110123456", "+254110123456"),
    ("+254 712 345 678", "+254712345678"),
    ("0712-345-678", "+254712345678"),
    ("0712 345 678", "+254712345678"),
    ("(0712) 345678", "+254712345678"),
    ("00254712345678", "+254712345678"),
    ("  +254-711-000-222 ", "+254711000222"),
]

INVALID = [
    "",
    "   ",
    "abc",
    "07123",
    "071234567890123",
    "12345",
    "0201234567",  # Nairobi landline
    "+447911123456",  # UK mobile: foreign
    "+12025550123",  # US: foreign
    "+255712345678",  # Tanzania: foreign
    "0712345678; DROP TABLE customers",
    "07l2345678",
    "+254 712 345 678 999",
    "1" * 40,
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_numbers_normalise_to_e164(text: str, expected: str) -> None:
    assert normalize_phone(text) == expected


@pytest.mark.parametrize("text", INVALID)
def test_invalid_numbers_raise_clear_error(text: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_phone(text)
    assert info.value.code == "invalid_phone"
    assert str(info.value)


def test_foreign_number_message_names_kenya() -> None:
    with pytest.raises(InvalidPhoneNumber, match="Kenyan"):
        normalize_phone("+447911123456")


@given(st.text(max_size=40))
def test_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        result = normalize_phone(text)
    except InvalidPhoneNumber:
        return
    assert result.startswith("+254") and len(result) == 13


@given(st.from_regex(r"\A0(7\d|1[01])\d{7}\Z"))
def test_all_spellings_agree(national: str) -> None:
    try:
        e164 = normalize_phone(national)
    except InvalidPhoneNumber:
        return
    digits = national[1:]
    for spelling in (f"254{digits}", f"+254{digits}", f"+254 {digits[:3]} {digits[3:6]} {digits[6:]}"):
        assert normalize_phone(spelling) == e164


def test_mask_phone_hides_the_middle() -> None:
    assert mask_phone("+254712345678") == "+254712***678"


def _outcome(parse: object, text: str) -> str:
    try:
        return "ok " + parse(text)  # type: ignore[operator]
    except InvalidPhoneNumber as exc:
        return "refused " + str(exc)


_DIGITS = st.text(alphabet="0123456789", max_size=12)
_NEAR_AT_FORM = st.builds(
    lambda plus, prefix, digits, pad: pad + plus + prefix + digits + pad,
    st.sampled_from(["", "+", "00", "++"]),
    st.sampled_from(["2547", "2541", "254", "25407", "2557", "07", "7", "254 7"]),
    _DIGITS,
    st.sampled_from(["", " ", "\t", "\n"]),
)
_AT_FORM = st.builds(lambda plus, digits: plus + "2547" + digits, st.sampled_from(["", "+"]),
                     st.text(alphabet="0123456789", min_size=8, max_size=8))  # fmt: skip


@given(
    st.one_of(
        _AT_FORM, _NEAR_AT_FORM, st.text(max_size=20), st.text(alphabet="+0123456789٠١٢٧ ", max_size=16)
    )
)
def test_the_fast_path_answers_as_phonenumbers_does(text: str) -> None:
    """normalize_phone skips phonenumbers for +2547XXXXXXXX / 2547XXXXXXXX (what Africa's Talking
    sends): the same answer, or the same refusal, for every input."""
    from core.identity.phone import _parsed

    assert _outcome(normalize_phone, text) == _outcome(_parsed, text)


@given(_AT_FORM)
def test_every_at_form_07xx_number_is_a_kenyan_mobile(text: str) -> None:
    from core.identity.phone import _parsed

    assert normalize_phone(text) == _parsed(text) == "+" + text.lstrip("+")
