"""The invoice state machine, pure: every BTCPay transition, tolerance, lateness, and properties
(nothing leaves Settled or Invalid; Settled exactly when confirmed on-time money covers it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.invoices.models import AdditionalStatus as A
from core.invoices.models import InvoiceStatus as S
from core.invoices.models import PaymentStatus as P
from core.invoices.states import PaymentFact, State, next_state, threshold, totals

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
EXPIRES = T0 + timedelta(minutes=15)
WINDOW = EXPIRES + timedelta(hours=24)
DUE = 1_000_000


def pay(amount: int, status: P = P.SEEN, late: bool = False, due: int = DUE) -> PaymentFact:
    return PaymentFact(amount_minor=amount, due_minor=due, status=status, late=late)


def step(current: State, payments: list[PaymentFact], now: datetime = T0, tolerance: int = 0) -> State:
    return next_state(
        current=current,
        payments=payments,
        tolerance_bps=tolerance,
        now=now,
        expires_at=EXPIRES,
        monitoring_until=WINDOW,
    )


NEW = State(S.NEW, A.NONE)


@pytest.mark.parametrize(
    ("current", "payments", "now", "expected"),
    [
        (NEW, [], T0, State(S.NEW, A.NONE)),
        (NEW, [pay(DUE // 2)], T0, State(S.NEW, A.PAID_PARTIAL)),
        (NEW, [pay(DUE // 2), pay(DUE // 2)], T0, State(S.PROCESSING, A.NONE)),
        (NEW, [pay(DUE, P.CONFIRMED)], T0, State(S.SETTLED, A.NONE)),
        (NEW, [pay(DUE + 1)], T0, State(S.PROCESSING, A.PAID_OVER)),
        (NEW, [pay(DUE + 1, P.CONFIRMED)], T0, State(S.SETTLED, A.PAID_OVER)),
        (NEW, [], EXPIRES, State(S.EXPIRED, A.NONE)),
        (NEW, [pay(10)], EXPIRES, State(S.EXPIRED, A.PAID_PARTIAL)),
        (State(S.EXPIRED, A.NONE), [pay(DUE, late=True)], EXPIRES, State(S.EXPIRED, A.PAID_LATE)),
        (State(S.EXPIRED, A.NONE), [pay(DUE, P.CONFIRMED, late=True)], WINDOW, State(S.EXPIRED, A.PAID_LATE)),
        # paid in time: confirmations may come after expiry
        (
            State(S.PROCESSING, A.NONE),
            [pay(DUE, P.CONFIRMED)],
            EXPIRES + timedelta(hours=1),
            State(S.SETTLED, A.NONE),
        ),
        # its transaction left the chain after expiry: wait for it, until the window closes
        (State(S.PROCESSING, A.NONE), [pay(DUE, P.ORPHANED)], EXPIRES, State(S.PROCESSING, A.NONE)),
        (State(S.PROCESSING, A.NONE), [pay(DUE, P.ORPHANED)], WINDOW, State(S.INVALID, A.NONE)),
        (State(S.PROCESSING, A.NONE), [pay(DUE)], WINDOW, State(S.INVALID, A.NONE)),
        # before expiry a reorg takes it back to New
        (State(S.PROCESSING, A.NONE), [pay(DUE, P.ORPHANED)], T0, State(S.NEW, A.NONE)),
        # another token is recorded but never counts
        (NEW, [pay(DUE, P.FLAGGED)], T0, State(S.NEW, A.NONE)),
        # later money on a Settled invoice only flags it
        (
            State(S.SETTLED, A.NONE),
            [pay(DUE, P.CONFIRMED), pay(5, late=True)],
            WINDOW,
            State(S.SETTLED, A.PAID_OVER),
        ),
        (State(S.INVALID, A.NONE), [pay(DUE, P.CONFIRMED)], T0, State(S.INVALID, A.NONE)),
    ],
)
def test_transitions(current: State, payments: list[PaymentFact], now: datetime, expected: State) -> None:
    assert step(current, payments, now) == expected


def test_tolerance_and_networks_add_up_exactly() -> None:
    assert step(NEW, [pay(990_000, P.CONFIRMED)], tolerance=100) == State(S.SETTLED, A.NONE)
    assert step(NEW, [pay(989_999, P.CONFIRMED)], tolerance=100).status is S.NEW
    thirds = [pay(1, P.CONFIRMED, due=3)] * 3  # 1/3 + 1/3 + 1/3 is exactly the whole
    assert step(NEW, thirds) == State(S.SETTLED, A.NONE)
    mixed = [pay(50, P.CONFIRMED, due=100), pay(1_500, P.CONFIRMED, due=3_000)]  # half BTC, half USDT
    assert step(NEW, mixed) == State(S.SETTLED, A.NONE)
    assert threshold(250) == 1 - totals([pay(25, due=1000)]).total


facts = st.lists(
    st.builds(
        PaymentFact,
        amount_minor=st.integers(0, 3 * DUE),
        due_minor=st.just(DUE),
        status=st.sampled_from(list(P)),
        late=st.booleans(),
    ),
    max_size=6,
)
states = st.builds(State, st.sampled_from(list(S)), st.sampled_from(list(A)))
moments = st.sampled_from([T0, EXPIRES, EXPIRES + timedelta(hours=1), WINDOW])


@given(current=states, payments=facts, now=moments, tolerance=st.sampled_from([0, 50, 1000]))
def test_properties(current: State, payments: list[PaymentFact], now: datetime, tolerance: int) -> None:
    new = step(current, payments, now, tolerance)
    if current.status in (S.SETTLED, S.INVALID):
        assert new.status is current.status  # terminal
    paid = totals(payments)
    if current.status not in (S.SETTLED, S.INVALID):
        assert (new.status is S.SETTLED) == (paid.confirmed_on_time >= threshold(tolerance))
    if new.status is S.NEW:
        assert now < EXPIRES
    assert step(new, payments, now, tolerance) == new  # a fixed point: recomputing changes nothing
