"""The invoice state machine, pure (no I/O): from the payments and the clock to a status.

Amounts are compared as exact fractions of the invoice (a payment of `amount` on a method whose
whole invoice is `due` pays amount/due of it), so payments on several networks add up exactly.

- Settled: the payments seen before expiry and confirmed cover the invoice (less the tolerance).
  Terminal: nothing moves a Settled invoice back (later money only flags it PaidOver).
- Processing: the payments seen before expiry cover it, not all confirmed yet.
- New: not covered yet (PaidPartial once anything arrived), before expiry.
- Expired: not covered by expiry (PaidPartial if something came in time; PaidLate when money
  came after expiry: staff decide, pay at the new rate or refund).
- Invalid: it was Processing and its payments were not confirmed within the monitoring window
  (expiry + 24 h; e.g. they left the chain in a reorg and never came back). Terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from core.invoices.models import AdditionalStatus, InvoiceStatus, PaymentStatus

TERMINAL = frozenset({InvoiceStatus.SETTLED, InvoiceStatus.INVALID})


@dataclass(frozen=True)
class PaymentFact:
    amount_minor: int
    due_minor: int  # the whole invoice in the payment's asset
    status: PaymentStatus
    late: bool

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.amount_minor, self.due_minor) if self.due_minor > 0 else Fraction(0)


@dataclass(frozen=True)
class State:
    status: InvoiceStatus
    additional: AdditionalStatus

    @property
    def needs_review(self) -> bool:
        return self.additional is AdditionalStatus.PAID_LATE


@dataclass(frozen=True)
class Totals:
    seen_on_time: Fraction  # seen or confirmed, first seen before expiry
    confirmed_on_time: Fraction
    late: Fraction
    total: Fraction  # everything that counts (seen or confirmed), late or not


def totals(payments: Iterable[PaymentFact]) -> Totals:
    seen_on_time = confirmed_on_time = late = Fraction(0)
    for payment in payments:
        if payment.status not in (PaymentStatus.SEEN, PaymentStatus.CONFIRMED):
            continue
        if payment.late:
            late += payment.fraction
            continue
        seen_on_time += payment.fraction
        if payment.status is PaymentStatus.CONFIRMED:
            confirmed_on_time += payment.fraction
    return Totals(seen_on_time, confirmed_on_time, late, seen_on_time + late)


def threshold(tolerance_bps: int) -> Fraction:
    """The part of the invoice that counts as paid in full: 1 less the merchant's tolerance."""
    return 1 - Fraction(tolerance_bps, 10_000)


def next_state(
    *,
    current: State,
    payments: Iterable[PaymentFact],
    tolerance_bps: int,
    now: datetime,
    expires_at: datetime,
    monitoring_until: datetime,
) -> State:
    paid = totals(payments)
    full = threshold(tolerance_bps)
    over = AdditionalStatus.PAID_OVER if paid.total > 1 else AdditionalStatus.NONE
    if current.status is InvoiceStatus.INVALID:
        return current
    if current.status is InvoiceStatus.SETTLED or paid.confirmed_on_time >= full:
        if current.status is InvoiceStatus.SETTLED and over is AdditionalStatus.NONE:
            return current  # a flag once raised stays
        return State(InvoiceStatus.SETTLED, over)
    expired = now >= expires_at
    if paid.seen_on_time >= full or (expired and current.status is InvoiceStatus.PROCESSING):
        # paid in time, waiting for confirmations; or the paying transactions left the chain after
        # expiry and may come back: wait for them until the monitoring window closes
        if now >= monitoring_until:
            return State(InvoiceStatus.INVALID, current.additional)
        return State(InvoiceStatus.PROCESSING, over if paid.seen_on_time >= full else current.additional)
    if paid.late > 0:
        return State(InvoiceStatus.EXPIRED, AdditionalStatus.PAID_LATE)
    partial = AdditionalStatus.PAID_PARTIAL if paid.seen_on_time > 0 else AdditionalStatus.NONE
    return State(InvoiceStatus.EXPIRED if expired else InvoiceStatus.NEW, partial)


def is_late(*, seen_at: datetime, expires_at: datetime) -> bool:
    return seen_at >= expires_at
