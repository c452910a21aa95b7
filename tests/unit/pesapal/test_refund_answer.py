"""How a RefundRequest's answer is read (payouts.pesapal.wire.refund_answer), with no I/O: PesaPal's
acceptance, a refusal only for a code that says PesaPal did not act on the request, and an unknown
outcome for everything else (the money stays held; the transaction's status decides)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payouts.pesapal import wire

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _error(code: Any, message: str = "m", kind: str = "api_error", status: str = "500") -> dict[str, Any]:
    return {"error": {"error_type": kind, "code": code, "message": message}, "status": status}


def test_pesapals_acceptance_is_accepted() -> None:
    said = wire.refund_answer(200, {"status": "200", "message": "Refund request successfully"})
    assert (said.outcome, said.said) == (wire.ACCEPTED, "Refund request successfully")
    nulls = {"status": "200", "error": {"error_type": None, "code": None, "message": None}}
    assert wire.refund_answer(200, nulls).outcome == wire.ACCEPTED


@pytest.mark.parametrize("code", sorted(wire.REFUND_REFUSALS))
def test_a_refusal_code_in_the_body_is_a_refusal(code: str) -> None:
    said = wire.refund_answer(200, _error(code, "already refunded KES 300.00"))
    assert (said.outcome, said.code) == (wire.REFUSED, code)
    assert said.said == f"HTTP 200 {code}: already refunded KES 300.00"
    assert wire.refund_answer(400, _error(code)).outcome == wire.REFUSED


@pytest.mark.parametrize(
    "http_status,body",
    [
        (200, _error("internal_server_error")),  # PesaPal failed inside: it may have taken it
        (200, _error("refund_failed")),  # says failed, not why: not a "not done"
        (200, _error("")),
        (200, _error(None, "")),
        (200, {"status": "500", "message": "Refund rejected"}),  # the documented body, no code
        (200, {"error": "Refund could not be processed", "status": "500"}),
        (200, {"error": ["x"], "status": "500"}),
        (200, ["status", "500"]),
        (200, None),
        (200, {}),
        (200, {"status": "200", "error": {"code": "internal_server_error"}}),  # contradictory
        (200, _error("invalid_refund_amount", status="200")),
        (502, _error("invalid_refund_amount")),  # a 5xx, whatever its body says
        (500, {"status": "200"}),
        (404, None),
        (302, {"status": "200"}),
    ],
)
def test_anything_else_is_unknown(http_status: int, body: Any) -> None:
    assert wire.refund_answer(http_status, body).outcome == wire.UNKNOWN


def test_an_authentication_error_is_a_refusal_with_no_code_or_an_auth_code() -> None:
    assert wire.refund_answer(200, _error("", kind="authentication_error")).outcome == wire.REFUSED
    assert wire.refund_answer(200, _error(None, kind="authentication_error")).outcome == wire.REFUSED
    for code in sorted(wire.AUTH_REFUSALS):
        assert wire.refund_answer(401, _error(code, kind="authentication_error")).outcome == wire.REFUSED


@pytest.mark.parametrize("code", ["refund_failed", "internal_server_error", "some_new_auth_code"])
def test_an_authentication_error_type_does_not_make_another_code_a_refusal(code: str) -> None:
    """error_type counts only when the code is empty or itself an auth code: `refund_failed` stays
    unknown (held) whatever error_type it wears."""
    said = wire.refund_answer(200, _error(code, kind="authentication_error"))
    assert said.outcome == wire.UNKNOWN, said


@pytest.mark.parametrize(
    "body",
    [
        {"status": "200", "error": {"error_type": "api_error"}},  # an error, even with no code
        {"status": "200", "error": {"error_type": "authentication_error"}},
        {"status": "200", "error": "x"},
        {"status": "200", "message": "Refund request rejected"},
        {"status": "200", "message": "Refund declined"},
        {"status": "200", "message": "Refund request failed"},
    ],
)
def test_a_status_200_that_carries_an_error_or_says_rejected_is_unknown(body: dict[str, Any]) -> None:
    """Never "waiting for approval on PesaPal's dashboard" for an answer that says something went
    wrong: the money stays held and the status decides."""
    assert wire.refund_answer(200, body).outcome == wire.UNKNOWN


@given(http_status=st.integers(min_value=100, max_value=599), body=JSON)
def test_any_answer_is_read_without_error_and_a_refusal_always_names_its_code(
    http_status: int, body: Any
) -> None:
    said = wire.refund_answer(http_status, body)
    assert said.outcome in (wire.ACCEPTED, wire.REFUSED, wire.UNKNOWN)
    _holds_the_rules(http_status, body, said)


ERROR_TYPES = st.sampled_from(["authentication_error", "api_error", "validation_error", "", None])
CODES = st.sampled_from([*sorted(wire.REFUND_REFUSALS), "refund_failed", "internal_server_error", "", None])
MESSAGES = st.sampled_from(
    ["", "Refund request successfully", "Refund request rejected", "REJECTED", "declined", "failed", "ok"]
)
ERRORS: st.SearchStrategy[Any] = (
    st.none()
    | st.just({})
    | st.just("")
    | st.text(max_size=8)
    | st.fixed_dictionaries(
        {}, optional={"error_type": ERROR_TYPES, "code": CODES | st.text(max_size=8), "message": MESSAGES}
    )
)
PESAPAL_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["200", "500", "400", 200, ""]),
        "error": ERRORS,
        "message": MESSAGES,
    },
)


@given(http_status=st.sampled_from([200, 201, 400, 401, 403, 409, 500, 502]), body=PESAPAL_BODIES)
def test_pesapal_shaped_answers_follow_the_rules(http_status: int, body: dict[str, Any]) -> None:
    """Bodies in PesaPal's shape (status, error {error_type, code, message}, message), where the
    any-JSON property seldom reaches: accepted only with no error and no word of rejection; refused
    only for a refusal code, or an authentication error whose code is empty or an auth code."""
    _holds_the_rules(http_status, body, wire.refund_answer(http_status, body))


def _holds_the_rules(http_status: int, body: Any, said: wire.RefundAnswer) -> None:
    assert said.outcome in (wire.ACCEPTED, wire.REFUSED, wire.UNKNOWN)
    error = body.get("error") if isinstance(body, dict) else None
    if said.outcome == wire.REFUSED:
        assert isinstance(error, dict) and http_status < 500
        assert str(body.get("status", "")).strip() != "200"
        code, kind = (str(error.get(k) or "").strip() for k in ("code", "error_type"))
        assert code in wire.REFUND_REFUSALS or (
            kind in wire.REFUSAL_ERROR_TYPES and (not code or code in wire.AUTH_REFUSALS)
        ), said
    if said.outcome == wire.ACCEPTED:
        assert 200 <= http_status < 300 and isinstance(body, dict) and str(body.get("status")) == "200"
        assert not error or (
            isinstance(error, dict) and not any(str(v or "").strip() for v in error.values())
        )
        for text in (body.get("message"), *(error.values() if isinstance(error, dict) else ())):
            shown = str(text or "").lower()
            assert not any(word in shown for word in ("reject", "declin", "fail")), said
    if http_status >= 500:
        assert said.outcome == wire.UNKNOWN


@given(
    code=st.text(max_size=30).filter(lambda c: c.strip() not in wire.REFUND_REFUSALS),
    http_status=st.sampled_from([200, 400, 401, 403, 404, 409, 422]),
    message=st.text(max_size=40),
)
def test_a_code_we_do_not_know_is_never_a_refusal(code: str, http_status: int, message: str) -> None:
    assert wire.refund_answer(http_status, _error(code, message)).outcome == wire.UNKNOWN
