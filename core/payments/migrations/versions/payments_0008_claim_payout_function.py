"""kibeti_claim_payout(): a payout's usual claim (created -> submitted) in one statement, the
shortcode's (shortcode, Nairobi day) lock taken inside it (PostgreSQL only)

Under the shortcode's daily value limit a claim must sum today's payouts only after taking the
(shortcode, day) advisory lock, so that it sees the claim committed by whoever held the lock before.
A lock taken inside the claim's own SQL statement does not do that (the statement's snapshot
predates the lock), so the claim was BEGIN, lock, claim, COMMIT: four round trips, with the lock
held while the server waits on the client (a stalled worker held every claim of the shortcode).
In this VOLATILE plpgsql function each statement takes a new snapshot (READ COMMITTED): PERFORM
takes the lock, then the UPDATE sums with the previous holder's claim in. Called autocommitted, the
lock lasts exactly as long as the one statement. In a session's transaction it is held until that
transaction ends (`p_idle_timeout` then also bounds how long that transaction may sit idle).

The default plan cache mode is kept: `SET plan_cache_mode = force_generic_plan` on the function was
measured and saved nothing (a claim's CPU is mostly the daily sum), and both plans read today's rows
through ix_payouts_submitted_at (tests/integration/payouts/test_claim_plan.py).

Changing the claim means a new migration that replaces this function (CREATE OR REPLACE).

Revision ID: payments_0008
Revises: payments_0007
Create Date: 2026-12-05 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "payments_0008"
down_revision: str | Sequence[str] | None = "payments_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# p_limit NULL: no daily value limit, no lock. The lock's keys: core.payments.service._daily_lock_keys.
CREATE = """
CREATE OR REPLACE FUNCTION kibeti_claim_payout(
    p_id varchar, p_now timestamptz, p_min bigint, p_max bigint, p_limit bigint,
    p_midnight timestamptz, p_statuses text[], p_lock_shortcode int, p_lock_day int,
    p_idle_timeout text
) RETURNS SETOF payouts
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_limit IS NOT NULL THEN
        IF p_idle_timeout IS NOT NULL THEN
            PERFORM set_config('idle_in_transaction_session_timeout', p_idle_timeout, true);
        END IF;
        PERFORM pg_advisory_xact_lock(p_lock_shortcode, p_lock_day);
    END IF;
    -- a statement of its own: its snapshot is taken after the lock was granted
    RETURN QUERY
    UPDATE payouts SET status = 'submitted', attempts = attempts + 1, submitted_at = p_now,
                       updated_at = p_now
    WHERE id = p_id AND status = 'created' AND amount_minor BETWEEN p_min AND p_max
      AND (p_limit IS NULL OR amount_minor + (
            SELECT coalesce(sum(amount_minor), 0) FROM payouts
            WHERE submitted_at >= p_midnight AND status = ANY(p_statuses)) <= p_limit)
    RETURNING *;
END
$$
"""

ARGUMENTS = "varchar, timestamptz, bigint, bigint, bigint, timestamptz, text[], int, int, text"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS kibeti_claim_payout({ARGUMENTS})")
