"""A use case's refusal in the customer's words: the same `error.<code>` texts USSD and the bot
show, with their numbers (tries left, how long a lock lasts)."""

from __future__ import annotations

from typing import Any

from core.errors import KibetiError
from core.i18n.catalog import has
from core.identity.errors import OtpInvalid, OtpTooManyRequests, PinIncorrect, PinLocked
from webapp.web import i18n

ALIASES = {
    "quote_already_used": "quote_used",
    "collection_amount_out_of_range": "invalid_amount",
    "payout_amount_out_of_range": "invalid_amount",
    "unsupported_quote": "invalid_amount",
    "payout_daily_limit": "limit_exceeded",
    "idempotency_conflict": "generic",
    "amount_too_small": "amount_below_fee",
    "portal_not_registered": "not_registered",
}


def refusal(exc: KibetiError, language: str, shortcode: str) -> str:
    if isinstance(exc, PinIncorrect) and exc.attempts_left > 0:
        if exc.attempts_left == 1:
            return i18n.text("error.pin_incorrect_last", language)
        return i18n.text("error.pin_incorrect_left", language, left=exc.attempts_left)
    if isinstance(exc, PinLocked) and exc.retry_after > 0:
        minutes = -(-exc.retry_after // 60)
        if minutes >= 120:
            return i18n.text("error.pin_locked_hours", language, hours=-(-minutes // 60))
        return i18n.text("error.pin_locked_minutes", language, minutes=minutes)
    if isinstance(exc, OtpInvalid):
        return i18n.text("app.sign_in.code_wrong", language, left=exc.attempts_left)
    if isinstance(exc, OtpTooManyRequests):
        return i18n.text("app.sign_in.too_many", language, minutes=max(1, -(-exc.retry_after // 60)))
    code = getattr(exc, "code", "generic") or "generic"
    code = ALIASES.get(code, code)
    if code == "withdrawal_refused":  # the compliance gate's decision on a withdrawal
        code = "compliance_review" if getattr(exc, "decision", "") == "review" else "compliance_denied"
    if code in ("wrong_network_address", "invalid_address", "address_refused"):
        return i18n.text(f"app.address.{code}", language)
    values: dict[str, Any] = dict(getattr(exc, "values", {}) or {})
    if code.startswith("amount_over_") and "how" not in values:
        values["how"] = ""
    if not has(f"error.{code}"):
        code = "generic"
    return _filled(i18n.text(f"error.{code}", language), {"code": shortcode, **values})


class _Kept(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _filled(template: str, values: dict[str, Any]) -> str:
    try:
        return template.format_map(_Kept(values))
    except (ValueError, IndexError, AttributeError):
        return template
