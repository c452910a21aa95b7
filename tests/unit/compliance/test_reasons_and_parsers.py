from __future__ import annotations

import csv
import io
from pathlib import Path

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
def test_sdn_loader_returns_entities_or_line_errors(tmp_path_factory, rows: list[list[str]]) -> None:
    directory: Path = tmp_path_factory.mktemp("sdn")
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    (directory / "sdn.csv").write_text(buffer.getvalue(), encoding="utf-8")
    errors: list[LineError] = []
    entities = load_ofac(directory, errors)
    assert all(e.line >= 1 for e in errors)
    assert all(e.source == "ofac" for e in entities)


def test_held_sms_promises_the_outcome_once_and_suggests_id_only_at_tier_0() -> None:
    from compliance import notices
    from core.money import Asset, Money

    amount = notices.money_value(Money.of("150000", Asset.KES))
    details = {"limit_kes": "100000.00", "remaining_kes": "1.50", "used_kes": "0.00"}
    for code in CODES:
        for lang, promise, verify in (("en", "SMS", "Verify"), ("sw", "SMS", "Thibitisha")):
            values = {"amount": amount, "reason_code": code, "details": details}
            shown = {
                tier: notices.render(
                    "compliance.sms.inbound_held", lang, values, shortcode="*483*1#", kyc_tier=tier
                )
                for tier in (0, 1, 2)
            }
            assert shown[0].count(promise) == 1 and verify in shown[0] and "*483*1#" in shown[0], shown[0]
            for tier in (1, 2):
                assert shown[tier].count(promise) == 1 and verify not in shown[tier], shown[tier]
            assert all("{" not in text and len(text) <= 306 for text in shown.values()), shown  # 2 SMS
