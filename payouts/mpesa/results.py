"""Daraja's result codes, translated into the rail-neutral outcomes core decides on (PROTOCOLS.md 1.4).

Core never sees a Daraja code as a decision: a B2C/B2B result or a Transaction Status answer becomes
a `core.payments.outcomes.RailResult` here (the code itself rides along for staff to read).
"""

from __future__ import annotations

from core.payments.outcomes import RailOutcome, RailResult

SUCCESS_CODE = "0"
# Result codes that mean "try again later" rather than "this payout failed"
RETRYABLE_RESULT_CODES = frozenset({"26", "17", "100000001", "100000002"})
# Result codes documented as "not paid" (the B2C table and the core codes): the only results that
# fail a payout and release its funds. Any other non-zero code (15 Duplicate Detected, an
# undocumented one) leaves the outcome unknown: Transaction Status decides.
REJECTED_RESULT_CODES = frozenset(
    {"1", "2", "3", "4", "8", "11", "18", "20", "21", "22", "24", "25", "29", "2001", "2006", "2028", "2040",
     "8006", "SFC_IC0003"}
)  # fmt: skip


def b2c_result(result_code: str, result_desc: str) -> RailResult:
    """A B2C/B2B result callback's code: paid, busy (new id), documented not paid, or unknown."""
    if result_code == SUCCESS_CODE:
        outcome = RailOutcome.SUCCEEDED
    elif result_code in RETRYABLE_RESULT_CODES:
        outcome = RailOutcome.RETRY
    elif result_code in REJECTED_RESULT_CODES:
        outcome = RailOutcome.FAILED
    else:
        outcome = RailOutcome.UNKNOWN
    return RailResult(outcome, result_code, result_desc)


def status_result(
    *, found: bool, transaction_status: str, transaction_result_code: str, desc: str
) -> RailResult | None:
    """A Transaction Status answer: None when Daraja does not know the transaction. Completed is paid;
    Failed failed, unless its code says busy (sent again under a new id). Any other status (Pending,
    none, a word Daraja's documentation does not give) leaves the outcome unknown: the payout stays
    held and is asked about again, never released on it (it may yet be paid)."""
    if not found:
        return None
    status = transaction_status.strip().lower()
    if status == "completed":
        return RailResult(RailOutcome.SUCCEEDED, SUCCESS_CODE, desc)
    code = transaction_result_code or "status_failed"
    if status != "failed":
        reason = f"Transaction Status says {transaction_status.strip() or 'nothing'}: {desc}"
        return RailResult(RailOutcome.UNKNOWN, transaction_result_code or "status_unknown", reason)
    if code in RETRYABLE_RESULT_CODES:
        return RailResult(RailOutcome.RETRY, code, desc)
    return RailResult(RailOutcome.FAILED, code, desc or "M-Pesa reports the payout failed")
