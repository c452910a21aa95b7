"""What a payout rail says about a payout, in the rail's own words translated by its adapter.

Core decides what each outcome does to the payout and the money (core.payments.service); the adapter
(payouts.mpesa.results for Daraja) decides which of its wire codes means which outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
