"""Holds in one round trip each on PostgreSQL: ledger_place_hold, ledger_void_hold, ledger_post_hold.

They do what core.ledger.service does on SQLite. place: the key (same hash: the first hold; another:
a conflict), the account locked and checked (known, open, same asset, constrained, enough not
already held), the hold inserted and `pending_out` raised. void: a pending hold flipped once to
voided or expired, its amount released, its audit row queued. post: a pending, unexpired hold
flipped to posted, its amount released and the entry posted through ledger_post_entry (the hold's
debit among its legs), the entry recorded on the hold; a refused entry undoes the flip (exception
block). Outcomes name refusals; nothing is half-written.

Revision ID: ledger_0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledger_0003"
down_revision: str | Sequence[str] | None = "ledger_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACE = """
CREATE OR REPLACE FUNCTION ledger_place_hold(
    p_key text, p_hash text, p_account integer, p_asset text, p_amount bigint, p_expires timestamptz,
    p_memo text, p_details text, p_now timestamptz,
    OUT hold_id bigint, OUT outcome text, OUT held_asset text
) LANGUAGE plpgsql AS $$
DECLARE
    v_hash text;
    v_asset text;
    v_closed boolean;
    v_constrained boolean;
    v_free bigint;
BEGIN
    SELECT h.id, h.request_hash INTO hold_id, v_hash FROM ledger_holds h WHERE h.idempotency_key = p_key;
    IF FOUND THEN
        outcome := CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
        RETURN;
    END IF;
    SELECT a.asset, a.closed, a.constrained, a.balance - a.pending_out
    INTO v_asset, v_closed, v_constrained, v_free
    FROM ledger_accounts a WHERE a.id = p_account
    FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'unknown_account';
    ELSIF v_closed THEN
        outcome := 'account_closed';
    ELSIF v_asset <> p_asset THEN
        outcome := 'wrong_asset';
        held_asset := v_asset;
    ELSIF NOT v_constrained THEN
        outcome := 'unconstrained';
    ELSIF v_free < p_amount THEN
        outcome := 'insufficient_funds';
    ELSE
        INSERT INTO ledger_holds (idempotency_key, request_hash, account_id, asset, amount, status,
                                  expires_at, memo, details, created_at)
        VALUES (p_key, p_hash, p_account, p_asset, p_amount, 'pending', p_expires, p_memo,
                p_details::json, p_now)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id INTO hold_id;
        IF hold_id IS NOT NULL THEN
            UPDATE ledger_accounts SET pending_out = pending_out + p_amount WHERE id = p_account;
            outcome := 'placed';
            RETURN;
        END IF;
    END IF;
    SELECT h.id, h.request_hash INTO hold_id, v_hash FROM ledger_holds h WHERE h.idempotency_key = p_key;
    IF FOUND THEN
        outcome := CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
        held_asset := NULL;
    END IF;
END;
$$;
"""

VOID = """
CREATE OR REPLACE FUNCTION ledger_void_hold(
    p_hold bigint, p_status text, p_reason text, p_now timestamptz
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_account integer;
    v_asset text;
    v_amount bigint;
    v_status text;
BEGIN
    UPDATE ledger_holds h
    SET status = p_status, resolved_at = p_now,
        details = (h.details::jsonb || jsonb_build_object('void_reason', p_reason))::json
    WHERE h.id = p_hold AND h.status = 'pending'
    RETURNING h.account_id, h.asset, h.amount INTO v_account, v_asset, v_amount;
    IF FOUND THEN
        UPDATE ledger_accounts SET pending_out = pending_out - v_amount WHERE id = v_account;
        INSERT INTO audit_pending (occurred_at, actor, action, subject, details)
        VALUES (p_now, 'system', 'money.hold_' || p_status, 'ledger_hold:' || p_hold,
                json_build_object('hold_id', p_hold, 'account_id', v_account, 'asset', v_asset,
                                  'minor', v_amount, 'reason', left(p_reason, 200)));
        RETURN 'resolved';
    END IF;
    SELECT h.status INTO v_status FROM ledger_holds h WHERE h.id = p_hold;
    IF NOT FOUND THEN
        RETURN 'unknown_hold';
    END IF;
    RETURN CASE WHEN v_status = 'posted' THEN 'posted' ELSE 'already' END;
END;
$$;
"""

POST = """
CREATE OR REPLACE FUNCTION ledger_post_hold(
    p_hold bigint, p_key text, p_hash text, p_kind text, p_memo text, p_details text,
    p_accounts integer[], p_assets text[], p_amounts bigint[], p_now timestamptz,
    OUT entry_id bigint, OUT outcome text, OUT bad_account integer
) LANGUAGE plpgsql AS $$
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
        op.execute(PLACE)
        op.execute(VOID)
        op.execute(POST)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_post_hold")
        op.execute("DROP FUNCTION IF EXISTS ledger_void_hold")
        op.execute("DROP FUNCTION IF EXISTS ledger_place_hold")
