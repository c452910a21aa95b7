"""The web foundation without I/O: signed session cookies, CSRF tokens, form validation, charts
and formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from core.money import Asset, Money
from webapp.web import charts, csrf, forms, i18n, sessions

POLICY = sessions.CookiePolicy(
    name="t", path="/t", idle=timedelta(minutes=15), max_age=timedelta(hours=12), secure=True
)
KEY = "unit-test-secret-key-0123456789"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_cookie_round_trip_and_tampering() -> None:
    session = sessions.new_signed_in("abc123", NOW, "sw")
    value = sessions.encode(session, secret_key=KEY, policy=POLICY)
    assert sessions.decode(value, secret_key=KEY, policy=POLICY) == session
    payload, mac = value.split(".")
    assert sessions.decode(payload[:-2] + "AA." + mac, secret_key=KEY, policy=POLICY) is None
    assert sessions.decode(value, secret_key="another-key-0123456789", policy=POLICY) is None
    other = sessions.CookiePolicy("u", "/u", POLICY.idle, POLICY.max_age, True)
    assert (
        sessions.decode(value, secret_key=KEY, policy=other) is None
    )  # one portal's cookie is not another's


@given(st.text(max_size=300))
def test_any_cookie_text_decodes_to_a_session_or_none(value: str) -> None:
    found = sessions.decode(value, secret_key=KEY, policy=POLICY)
    assert found is None or isinstance(found, sessions.WebSession)


def test_idle_and_maximum_age() -> None:
    session = sessions.new_signed_in("abc", NOW, "en")
    assert sessions.is_fresh(session, now=NOW + timedelta(minutes=15), policy=POLICY)
    assert not sessions.is_fresh(session, now=NOW + timedelta(minutes=16), policy=POLICY)
    kept_busy = session
    for minutes in range(10, 12 * 60, 10):
        kept_busy = kept_busy.touched(NOW + timedelta(minutes=minutes))
    assert not sessions.is_fresh(kept_busy, now=NOW + timedelta(hours=12, minutes=1), policy=POLICY)


def test_csrf_token_is_bound_to_the_session() -> None:
    token = csrf.token_for("sid-1", secret_key=KEY)
    assert csrf.is_valid("sid-1", token, secret_key=KEY)
    assert not csrf.is_valid("sid-2", token, secret_key=KEY)
    assert not csrf.is_valid("sid-1", None, secret_key=KEY)
    assert not csrf.is_valid("sid-1", "", secret_key=KEY)


class Example(BaseModel):
    name: str = Field(min_length=1, max_length=5)
    password: str = Field(min_length=12)
    count: int = Field(ge=1)


def test_form_errors_per_field_in_the_viewers_language() -> None:
    result = forms.validate(Example, {"name": "toolong", "password": "short", "count": "x"}, "sw")
    assert result.value is None
    assert result.errors == {
        "name": "Hii ni ndefu mno.",
        "password": "Hii ni fupi mno.",  # typed, too short: not "Fill in this field"
        "count": "Weka nambari.",
    }
    assert "password" not in result.values  # secrets are never echoed back


def test_chart_escapes_labels() -> None:
    svg = str(charts.bar_chart([("<script>", 5, "5"), ("b", 10, "10")], label='a "chart"'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="a &#34;chart&#34;"' in svg and 'role="img"' in svg


def test_money_and_time_in_nairobi() -> None:
    assert i18n.money(Money.of("1234.5", Asset.KES), "en") == "KES 1,234.50"  # as SMS and USSD write it
    assert i18n.money(Money.of("0.0005", Asset.BTC), "sw") == "BTC 0.0005"  # the house format, as SMS
    assert i18n.money(Money.of("0.0005", Asset.BTC), "sw", exact=True) == "BTC 0.00050000"  # to pay
    assert i18n.when(NOW, "en").endswith("12:00:00")  # 09:00 UTC is noon in Nairobi
    assert i18n.number(Decimal("1234567"), "en") == "1,234,567"


@given(st.text(max_size=100))
def test_any_posted_token_is_checked_without_an_error(given_token: str) -> None:
    assert csrf.is_valid("sid-1", given_token, secret_key=KEY) is (
        given_token == csrf.token_for("sid-1", secret_key=KEY)
    )
