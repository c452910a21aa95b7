"""The cached/fast translation paths answer exactly what the reference implementations answer."""

from __future__ import annotations

import contextlib
import unicodedata
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.i18n.catalog import _FORMATTER, _format
from core.i18n.gsm import _GSM, _REPLACEMENTS, gsm7_safe


def _reference_format(text: str, values: dict[str, Any]) -> str:
    with contextlib.suppress(ValueError, IndexError):
        return _FORMATTER.format(text, **values)
    return text


def _reference_gsm7(text: str) -> str:
    out = []
    for char in text:
        char = _REPLACEMENTS.get(char, char)
        if all(c in _GSM for c in char):
            out.append(char)
            continue
        out.append("".join(c for c in unicodedata.normalize("NFKD", char) if c in _GSM) or "?")
    return "".join(out)


PIECES = ["{name}", "{code}", "{missing}", "{0}", "{}", "{name:>6}", "{name!r}", "{a[0]}", "{{", "}}",
          "{", "}", "{name:{code}}", "Habari ", "KES 1,000.00", "\u2019", "\u2026", "\t"]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), max_size=6).map("".join))
def test_format_matches_string_formatter(text: str) -> None:
    values = {"name": "Amina", "code": "*483*1#"}
    try:
        expected: str | type[Exception] = _reference_format(text, values)
    except Exception as exc:  # the reference raises on some odd fields: so must the fast path
        expected = type(exc)
    try:
        got: str | type[Exception] = _format(text, values)
    except Exception as exc:
        got = type(exc)
    assert got == expected


@given(st.text(max_size=40) | st.lists(st.sampled_from(PIECES), max_size=6).map("".join))
def test_gsm7_fast_path_matches_the_reference(text: str) -> None:
    assert gsm7_safe(text) == _reference_gsm7(text)
