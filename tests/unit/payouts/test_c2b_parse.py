"""C2B bodies parsed defensively (property-based): anything JSON gives a Payment or MalformedCallback,
never another error; M-Pesa's paybill limits hold exactly; every validation outcome has a reply."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from payouts import c2b
from payouts.mpesa import wire

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
AMOUNT_TEXT = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.sampled_from(["", "abc", "1e400", "-0", "NaN", "sNaN", "Infinity", "1,000", " 10 ", "10.001"]),
)


@given(JSON)
def test_any_json_is_a_payment_or_malformed(body: object) -> None:
    with contextlib.suppress(wire.MalformedCallback):
        c2b.parse(body)


@given(
    AMOUNT_TEXT,
    st.one_of(st.text(max_size=30), st.integers(), st.none()),
    st.one_of(st.text(max_size=60), st.integers(), st.none()),
)
def test_daraja_shaped_bodies_with_any_fields(amount: str, account: object, trans_id: object) -> None:
    body = {"TransID": trans_id, "TransAmount": amount, "BillRefNumber": account, "MSISDN": "25471****678"}
    try:
        payment = c2b.parse(body)
    except wire.MalformedCallback:
        return
    assert payment.trans_id == trans_id and payment.trans_id.isalnum()
    assert Decimal(0) < payment.amount <= Decimal(10**9)
    assert payment.amount == payment.amount.quantize(Decimal("0.01"))


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**9), places=2))
def test_paybill_limits_are_whole_shillings_from_1_to_250000(amount: Decimal) -> None:
    allowed = amount == amount.to_integral_value() and Decimal(1) <= amount <= Decimal(250_000)
    assert (c2b.amount_problem(amount) == "") is allowed


@given(st.text(max_size=40))
def test_every_outcome_has_a_daraja_reply(outcome: str) -> None:
    reply = c2b.validation_reply(outcome)
    assert reply["ResultCode"] in {"0", *c2b.REJECT_REASONS}
    assert (reply["ResultCode"] == "0") is (outcome == "accepted")


@given(st.text(max_size=14) | st.integers(min_value=-(10**12), max_value=10**12).map(str))
def test_a_customer_number_is_plain_ascii_digits_in_the_id_range(reference: str) -> None:
    number = c2b.customer_number(reference)
    if number is not None:
        assert reference.isascii() and reference.isdigit() and 0 <= number < 2**31
        assert int(reference) == number


def test_customer_numbers_only_in_ascii_digits() -> None:
    assert c2b.customer_number("42") == 42
    assert [c2b.customer_number(r) for r in ("²", "４２", "٤٢", "-1", "", " 42", "2147483648")] == [None] * 7


@given(st.sampled_from(sorted(c2b.REJECT_REASONS)) | st.text(max_size=12))
def test_a_rejection_always_carries_a_daraja_code(code: str) -> None:
    reply = c2b.validation_reply(c2b.REJECTED_PREFIX + code)
    assert reply["ResultCode"] == (code if code in c2b.REJECT_REASONS else c2b.OTHER)
