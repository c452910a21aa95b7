from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance import reasons
from compliance.sanctions.entities import LineError
from compliance.sanctions.normalize import normalize
from compliance.sanctions.ofac import load_ofac, parse_date

CODES = [
    v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str) and k not in ("LANGUAGES",)
]


def test_every_reason_code_has_english_and_swahili() -> None:
    assert set(CODES) == set(reasons.MESSAGES)
    for code in CODES:
        for lang in ("en", "sw"):
            text = reasons.message(code, lang, {"limit_kes": "1000.00", "remaining_kes": "1.50"})
            assert text and "{" not in text and len(text) <= 160  # fits one SMS / a USSD screen


def test_unknown_code_and_language_fall_back() -> None:
    assert reasons.message("no_such_code", "fr") == reasons.MESSAGES[reasons.DECLINED]["en"]


@given(st.text(max_size=60))
def test_normalize_is_idempotent(name: str) -> None:
    once = normalize(name, individual=False)
    assert normalize(once, individual=False) == once


@given(st.text(max_size=40))
def test_parse_date_never_crashes(text: str) -> None:
    parse_date(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(alphabet='ab1,-0 "\n', max_size=8), min_size=1, max_size=14), max_size=6))
def test_sdn_loader_returns_entities_or_line_errors(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]]
) -> None:
    directory: Path = tmp_path_factory.mktemp("sdn")
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    (directory / "sdn.csv").write_text(buffer.getvalue(), encoding="utf-8")
    errors: list[LineError] = []
    entities = load_ofac(directory, errors)
    assert all(e.line >= 1 for e in errors)
    assert all(e.source == "ofac" for e in entities)


# the limits verifying an ID raises, by their names (the oracle does not read reasons.LIMIT_CODES)
LIMITS = [code for code in CODES if code.startswith("limit_")]
HINT = {"en": "Verify your ID", "sw": "Thibitisha kitambulisho"}
SHORTCODE = "*483*1#"


def _held_sms(code: str, language: str, tier: int) -> str:
    from compliance import notices
    from core.money import Asset, Money

    values = {
        "amount": notices.money_value(Money.of("150000", Asset.KES)),
        "reason_code": code,
        "details": {"limit_kes": "100000.00", "remaining_kes": "1.50", "used_kes": "0.00"},
    }
    return notices.render("compliance.sms.inbound_held", language, values, shortcode=SHORTCODE, kyc_tier=tier)


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize("code", CODES)
def test_held_sms_promises_the_outcome_once_and_suggests_id_only_for_a_limit_at_tier_0(
    code: str, language: str
) -> None:
    shown = {tier: _held_sms(code, language, tier) for tier in (0, 1, 2)}
    for text in shown.values():
        assert text.count("SMS") == 1 and "{" not in text and len(text) <= 306, text  # once; 2 SMS at most
    hinted = {tier for tier, text in shown.items() if HINT[language] in text or SHORTCODE in text}
    assert hinted == ({0} if code in LIMITS else set()), shown
    if code not in LIMITS:  # nothing in the SMS depends on the customer's tier
        assert shown[0] == shown[1] == shown[2]


@pytest.mark.parametrize("language", ["en", "sw"])
def test_a_frozen_or_listed_customers_held_sms_stays_generic(language: str) -> None:
    """The generic review reason (frozen, listed, a rule) names no limit and asks for no ID."""
    text = _held_sms(reasons.REVIEW, language, 0).lower()
    assert text == _held_sms(reasons.INBOUND_UNVALUED, language, 0).lower()  # one text for any review
    for word in (
        "limit",
        "kikomo",
        "vikomo",
        "verify",
        "thibitisha",
        "kitambulisho",
        "list",
        "orodha",
        "rule",
    ):
        assert word not in text, (word, text)
