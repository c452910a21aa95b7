"""GSM 03.38 (GSM-7) helpers: keep texts in the 7-bit alphabet so SMS and USSD stay one part."""

from __future__ import annotations

import unicodedata

_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENDED = "^{}\\[]~|€\f"
_GSM = frozenset(_BASIC) | frozenset(_EXTENDED)

_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\t": " ",
    "\u2248": "~",
}


def gsm7_safe(text: str) -> str:
    """Replace typographic characters with GSM-7 ones; strip accents the alphabet lacks."""
    if _GSM.issuperset(text):  # nearly always: nothing to replace (tab and no-break spaces are not in _GSM)
        return text
    out: list[str] = []
    for char in text:
        char = _REPLACEMENTS.get(char, char)
        if all(c in _GSM for c in char):
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        plain = "".join(c for c in decomposed if c in _GSM)
        out.append(plain or "?")
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return all(c in _GSM for c in text)


def sms_segments(text: str) -> int:
    """How many SMS parts `text` takes (GSM-7: 160/153 septets; otherwise UCS-2: 70/67)."""
    if is_gsm7(text):
        septets = sum(2 if c in _EXTENDED else 1 for c in text)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)
