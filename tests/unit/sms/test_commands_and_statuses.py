"""Inbound SMS keywords and the order delivery statuses may replace each other in (properties)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.messaging import status
from core.messaging.commands import KEYWORDS, Command, parse
from core.messaging.service import attempt_of, resend_reference

STATUSES = [*sorted(status.KNOWN), "Delivered", "", "success"]


@given(st.text(max_size=300))
def test_any_text_parses_to_a_command(text: str) -> None:
    assert parse(text).command in Command


@given(st.sampled_from(sorted(KEYWORDS)), st.sampled_from(["", " ", "  now!", ".", " 🙂"]), st.booleans())
def test_a_keyword_is_found_in_any_case_with_trailing_words(keyword: str, tail: str, lower: bool) -> None:
    text = (keyword.lower() if lower else keyword) + tail
    assert parse(f"  {text}") == parse(keyword)
    assert parse(keyword).command == KEYWORDS[keyword][0]


def test_swahili_keywords_say_swahili_and_unknown_words_say_nothing() -> None:
    assert parse("salio").language == "sw" and parse("msaada").command is Command.HELP
    assert parse("bal").language == "en"
    assert parse("habari yako") == parse("hello") and parse("hello").language is None
    assert parse("").command is Command.HELP


@given(st.lists(st.sampled_from(STATUSES), max_size=12))
def test_the_first_final_status_is_kept_whatever_arrives_after(reports: list[str]) -> None:
    current = status.ACCEPTED
    for incoming in reports:
        if status.replaces(current, incoming):
            current = incoming
    finals = [report for report in reports if report in status.FINAL]
    if finals:
        assert current == finals[0]
    else:
        assert current in status.INTERMEDIATE


@given(st.text(alphabet="abc:-_#r0123456789", min_size=1, max_size=40), st.integers(2, 999))
def test_a_resend_reference_names_the_first_send_and_the_attempt(reference: str, attempt: int) -> None:
    again = resend_reference(reference, attempt)
    assert attempt_of(again) == (attempt_of(reference)[0], attempt)
