"""The delivery state machine (core.webhooks.service.next_step), driven by hypothesis through random
answers from a receiver, random jitter and Retry-After values: a delivery ends delivered or failed,
never goes on after either, waits at least its step of the schedule each time, makes at most one
attempt more than the schedule has steps, and turns its endpoint off only after failing for the
whole `disable_after`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.webhooks.models import AttemptOutcome, DeliveryStatus
from core.webhooks.service import MAX_RETRY_AFTER_S, next_step, quiet_gap

SCHEDULE = [10.0, 60.0, 600.0, 3600.0, 21600.0, 86400.0, 86400.0, 86400.0]
DISABLE_AFTER = timedelta(hours=72)
START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

answers = st.lists(
    st.tuples(
        st.sampled_from(
            [AttemptOutcome.RETRY, AttemptOutcome.RETRY, AttemptOutcome.FAILED, AttemptOutcome.DELIVERED]
        ),
        st.floats(0, 1),  # jitter
        st.one_of(st.none(), st.integers(0, 3 * 86_400)),  # Retry-After
    ),
    min_size=1,
    max_size=12,
)


@given(answers=answers, failing_before=st.one_of(st.none(), st.integers(0, 5 * 86_400)))
def test_a_delivery_ends_once_and_waits_its_schedule(
    answers: list[tuple[AttemptOutcome, float, int | None]], failing_before: int | None
) -> None:
    now = START
    failing_since = None if failing_before is None else START - timedelta(seconds=failing_before)
    enabled = True
    status = DeliveryStatus.PENDING
    attempts = 0
    last_attempt_at = None if failing_since is None else START - timedelta(hours=1)
    for outcome, jitter, retry_after in answers:
        if status is not DeliveryStatus.PENDING:
            break
        attempts += 1
        step = next_step(
            outcome=outcome, attempts_made=attempts, schedule=SCHEDULE, jitter=jitter,
            retry_after_s=retry_after, failing_since=failing_since, endpoint_enabled=enabled,
            disable_after=DISABLE_AFTER, now=now, last_attempt_at=last_attempt_at,
        )  # fmt: skip
        last_attempt_at = now
        if outcome is AttemptOutcome.DELIVERED:
            assert step == step.__class__(DeliveryStatus.DELIVERED, None, None, False)
        else:
            assert step.failing_since == (failing_since or now)  # kept from the first failure on
        if step.disable_endpoint:
            assert failing_since is not None and now - failing_since >= DISABLE_AFTER
            assert step.status is DeliveryStatus.FAILED
            enabled = False
        elif outcome is not AttemptOutcome.DELIVERED and failing_since is not None and enabled:
            assert now - failing_since < DISABLE_AFTER  # failing that long always turns it off
        if outcome is AttemptOutcome.FAILED or (outcome is AttemptOutcome.RETRY and attempts > len(SCHEDULE)):
            assert step.status is DeliveryStatus.FAILED and step.next_attempt_at is None
        if step.status is DeliveryStatus.PENDING:
            assert outcome is AttemptOutcome.RETRY and step.next_attempt_at is not None
            wait = step.next_attempt_at - now
            base = timedelta(seconds=SCHEDULE[attempts - 1])
            longest = max(base * 1.2, timedelta(seconds=min(retry_after or 0, MAX_RETRY_AFTER_S)))
            assert base <= wait <= longest
            now = step.next_attempt_at
        status, failing_since = step.status, step.failing_since
    assert attempts <= len(SCHEDULE) + 1


@given(jitters=st.lists(st.floats(0, 1), min_size=9, max_size=9))
def test_a_receiver_that_never_answers_is_tried_for_about_three_days_then_given_up(
    jitters: list[float],
) -> None:
    now, failing_since, attempts = START, None, 0
    step = None
    for jitter in jitters:
        attempts += 1
        step = next_step(
            outcome=AttemptOutcome.RETRY, attempts_made=attempts, schedule=SCHEDULE, jitter=jitter,
            retry_after_s=None, failing_since=failing_since, endpoint_enabled=True,
            disable_after=timedelta(days=30), now=now,
        )  # fmt: skip
        if step.status is not DeliveryStatus.PENDING:
            break
        assert step.next_attempt_at is not None
        now, failing_since = step.next_attempt_at, step.failing_since
    assert step is not None and step.status is DeliveryStatus.FAILED and attempts == len(SCHEDULE) + 1
    assert timedelta(days=3) < now - START < timedelta(days=4.2)


@given(failing_for_days=st.floats(3, 30), quiet_hours=st.floats(0, 100))
def test_a_failing_spell_ends_with_a_pause_longer_than_any_retry_waits(
    failing_for_days: float, quiet_hours: float
) -> None:
    """A failure days ago, then nothing sent for longer than a retry ever waits: a new failure
    starts a new spell instead of switching the endpoint off at once."""
    now = START
    step = next_step(
        outcome=AttemptOutcome.FAILED, attempts_made=1, schedule=SCHEDULE, jitter=0.0, retry_after_s=None,
        failing_since=now - timedelta(days=failing_for_days), endpoint_enabled=True,
        disable_after=DISABLE_AFTER, now=now, last_attempt_at=now - timedelta(hours=quiet_hours),
    )  # fmt: skip
    quiet = timedelta(hours=quiet_hours) > quiet_gap(SCHEDULE)
    assert step.disable_endpoint is not quiet
    assert step.failing_since == (now if quiet else now - timedelta(days=failing_for_days))
