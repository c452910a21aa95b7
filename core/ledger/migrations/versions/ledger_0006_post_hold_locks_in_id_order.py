"""ledger_post_hold takes its row locks in account id order, as ledger_post_entry does.

It released the hold's amount (the `pending_out` update, a row lock on the hold's account) before
ledger_post_entry locked the entry's constrained accounts in id order. An entry with a second
constrained account below the hold's (a hold posted into another customer's wallet) would lock
out of order, and deadlock with a transfer between the two wallets. The constrained accounts below
the hold's are now locked first (FOR UPDATE in id order; none for an entry whose only constrained
account is the hold's, today's payouts and withdrawals). The function keeps ledger_0005's generic
plans.

Revision ID: ledger_0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledger_0006"
down_revision: str | Sequence[str] | None = "ledger_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POST_HOLD = """
CREATE OR REPLACE FUNCTION ledger_post_hold(
    p_hold bigint, p_key text, p_hash text, p_kind text, p_memo text, p_details text,
    p_accounts integer[], p_assets text[], p_amounts bigint[], p_now timestamptz,
    OUT entry_id bigint, OUT outcome text, OUT bad_account integer
) LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_status text;
    v_resolution bigint;
    v_expires timestamptz;
    v_account integer;
    v_amount bigint;
    v_key text;
BEGIN
    SELECT h.status, h.resolution_entry_id, h.expires_at, h.account_id, h.amount
    INTO v_status, v_resolution, v_expires, v_account, v_amount
    FROM ledger_holds h WHERE h.id = p_hold
    FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'unknown_hold';
        RETURN;
    END IF;
    IF v_status = 'posted' THEN
        SELECT e.idempotency_key INTO v_key FROM ledger_entries e WHERE e.id = v_resolution;
        IF v_key = p_key THEN
            entry_id := v_resolution;
            outcome := 'replayed';
        ELSE
            outcome := 'already_posted';
        END IF;
        RETURN;
    END IF;
    IF v_status <> 'pending' THEN
        outcome := 'already_' || v_status;
        RETURN;
    END IF;
    IF v_expires IS NOT NULL AND v_expires <= p_now THEN
        outcome := 'expired';
        RETURN;
    END IF;
    BEGIN
        -- the lock order is account id order, as in ledger_post_entry: the entry's constrained
        -- accounts below the hold's are locked before the hold's account row is touched
        PERFORM 1 FROM ledger_accounts a
        WHERE a.id = ANY(p_accounts) AND a.id < v_account AND a.constrained
        ORDER BY a.id FOR UPDATE;
        UPDATE ledger_holds SET status = 'posted', resolved_at = p_now WHERE id = p_hold;
        UPDATE ledger_accounts SET pending_out = pending_out - v_amount WHERE id = v_account;
        SELECT e.entry_id, e.outcome, e.bad_account INTO entry_id, outcome, bad_account
        FROM ledger_post_entry(p_key, p_hash, p_kind, p_memo, p_details, p_accounts, p_assets,
                               p_amounts, p_now) e;
        IF outcome NOT IN ('posted', 'replayed') THEN
            RAISE EXCEPTION USING ERRCODE = 'KB001';
        END IF;
        UPDATE ledger_holds SET resolution_entry_id = entry_id WHERE id = p_hold;
    EXCEPTION WHEN SQLSTATE 'KB001' THEN
        entry_id := NULL;
    END;
END;
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POST_HOLD)


def downgrade() -> None:
    pass  # ledger_0003's definition is replaced; its downgrade drops the function
