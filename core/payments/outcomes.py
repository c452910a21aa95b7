"""What a payout rail says about a payout, in the rail's own words translated by its adapter.

Core decides what each outcome does to the payout and the money (core.payments.service); the adapter
(payouts.mpesa.results for Daraja) decides which of its wire codes means which outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class RailOutcome(StrEnum):
    SUCCEEDED = "succeeded"  # paid
    FAILED = "failed"  # documented as not paid: the funds go back
    UNKNOWN = "unknown"  # the rail may have paid: held until a status query decides
    RETRY = "retry"  # refused without paying (busy): send again under a new id


@dataclass(frozen=True)
class RailResult:
    outcome: RailOutcome
    code: str = ""  # the rail's own result code, kept on the payout for staff
    reason: str = ""


class _Translation(Protocol):
    def __call__(self, result_code: str, result_desc: str) -> RailResult: ...


class _StatusTranslation(Protocol):
    def __call__(
        self, *, found: bool, completed: bool, transaction_result_code: str, desc: str
    ) -> RailResult | None: ...


@dataclass
class _Registered:
    b2c: _Translation | None = None
    status: _StatusTranslation | None = None


_registered = _Registered()


def register_translation(*, b2c: _Translation, status: _StatusTranslation) -> None:
    """The payout rail adapter's code translation (payouts.mpesa.results registers it on import), for
    callers of core.payments.service's code-taking entry points (`apply_b2c_result`)."""
    _registered.b2c, _registered.status = b2c, status


def translated(result_code: str, result_desc: str) -> RailResult:
    if _registered.b2c is None:
        raise RuntimeError("no payout rail registered its result codes (import payouts.mpesa.results)")
    return _registered.b2c(result_code, result_desc)


def translated_status(
    *, found: bool, completed: bool, transaction_result_code: str, desc: str
) -> RailResult | None:
    if _registered.status is None:
        raise RuntimeError("no payout rail registered its result codes (import payouts.mpesa.results)")
    return _registered.status(
        found=found, completed=completed, transaction_result_code=transaction_result_code, desc=desc
    )
