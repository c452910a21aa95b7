"""Translations: gettext catalogs (managed with Babel) for English and Swahili.

Message ids are stable codes (``"ussd.main"``, ``"error.pin_locked"``); the English catalog holds the
English text, so a missing Swahili entry falls back to English, and a missing code to itself.
Values are formatted with ``str.format`` and then made GSM-7 safe (no curly quotes, no odd dashes).
"""

from __future__ import annotations

from core.i18n.catalog import LANGUAGES, translate, translator
from core.i18n.gsm import gsm7_safe, is_gsm7, sms_segments

__all__ = ["LANGUAGES", "N_", "gsm7_safe", "is_gsm7", "sms_segments", "translate", "translator"]


def N_(code: str) -> str:
    """Mark a code for Babel extraction where it is used dynamically."""
    return code
