"""Errors the customer use cases raise. Channels translate them by `code` (``error.<code>``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from core.errors import KibetiError
from core.fx.errors import RatesUnavailable
from core.money import Asset, Money, format_money


class ServiceUnavailable(KibetiError):
    """A part the use case needs is not wired or not built yet (`missing` names it, for the logs)."""

    code = "service_unavailable"

    def __init__(self, missing: str) -> None:
        super().__init__(f"service unavailable: {missing}")
        self.missing = missing


class NotRegistered(KibetiError):
    code = "not_registered"


class AlreadyRegistered(KibetiError):
    code = "phone_taken"


class NationalIdTaken(KibetiError):
    """The national ID is already registered to another number: one person, one wallet."""

    code = "national_id_taken"


class InvalidName(KibetiError, ValueError):
    code = "invalid_name"


class InvalidNationalId(KibetiError, ValueError):
    code = "invalid_national_id"


class SelfSend(KibetiError, ValueError):
    code = "self_send"


class Refused(KibetiError):
    """The compliance gate said no (or review). `code` is the gate's reason code when channels have a
    text for it (limits, frozen account), else the generic decline or review; `values` fill it in."""

    code = "compliance_denied"
    SPECIFIC = frozenset(
        {
            "limit_transaction_exceeded",
            "limit_daily_exceeded",
            "limit_monthly_exceeded",
            "limit_balance_exceeded",
            "limit_crypto_withdrawal_exceeded",
            "tier_crypto_withdrawal_not_allowed",
            "account_frozen",
        }
    )

    def __init__(
        self, reason_code: str, *, review: bool = False, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(reason_code or "denied")
        self.reason_code = reason_code
        if reason_code in self.SPECIFIC:
            self.code = reason_code
        elif review:
            self.code = "compliance_review"
        # the gate names its amounts "limit_kes"/"remaining_kes" (KES text); the texts say {limit}
        self.values = {
            key.removesuffix("_kes"): _kes(value)
            for key, value in (details or {}).items()
            if key.removesuffix("_kes") in ("limit", "remaining")
        }


def _kes(value: Any) -> str:
    try:
        return format_money(Money.of(Decimal(str(value)), Asset.KES))
    except (ArithmeticError, KibetiError):
        return str(value)


class AmountOverLimit(KibetiError):
    """Issue 19: an amount a limit would refuse, told before the PIN with the most allowed (`max`, in
    the asset the customer types). `code`: amount_over_tx_limit | amount_over_daily_limit |
    amount_over_monthly_limit | amount_over_withdrawal_limit | amount_over_max."""

    def __init__(self, code: str, maximum: Money, next_step: str = "") -> None:
        super().__init__(f"{code}: at most {format_money(maximum)}")
        self.code = code
        self.maximum = maximum
        self.next_step = next_step  # what raises the limit (CustomerLimits.next_step), "" if nothing
        self.values = {"max": format_money(maximum)}


class CryptoWithdrawalsNotAllowed(KibetiError):
    code = "tier_crypto_withdrawal_not_allowed"


class AccountOnHold(KibetiError):
    """Compliance froze the account: told before the PIN (the gate refuses it at the PIN anyway)."""

    code = "account_frozen"


class LimitRateUnavailable(RatesUnavailable):
    """No fresh rate to value a crypto movement in KES for the limits and the compliance gate: the
    movement is refused (try again shortly), never checked against an old or a display-cache value."""

    code = "limit_rate_unavailable"
    http_status: ClassVar[int] = 503
