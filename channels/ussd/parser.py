"""Deriving this hop's input from Africa's Talking's accumulated `text`.

AT sends every input so far joined by `*` ("", "1", "1*2*500"). We remember the text we last saw
for the session, so this hop's input is whatever follows it: that keeps a `*` typed inside an
input, and an empty input ("1**2"), intact. Without a previous text we fall back to the last
segment.
"""

from __future__ import annotations

MAX_INPUT = 64
BACK = "0"
MAIN = "00"
MORE = "98"


def derive_input(previous_text: str, text: str) -> str:
    """The input the person typed on this hop."""
    if not previous_text:
        return text
    prefix = previous_text + "*"
    if text.startswith(prefix):
        return text[len(prefix) :]
    return text.rsplit("*", 1)[-1]


def clean(raw: str) -> str:
    """Trim whitespace and a trailing '#', and bound the length."""
    value = raw.strip()
    if value.endswith("#") and len(value) > 1:
        value = value[:-1].strip()
    return value[:MAX_INPUT]


def is_digits(value: str, *, length: int | None = None) -> bool:
    """ASCII digits only (str.isdigit accepts other scripts' digits too)."""
    ok = bool(value) and all("0" <= c <= "9" for c in value)
    return ok and (length is None or len(value) == length)
