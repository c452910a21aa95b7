"""The ledger's one-round-trip posting on PostgreSQL, and the audit rows money writes queue.

`ledger_post_entry` does what core.ledger.service.post_entry does in Python on SQLite: claim the
idempotency key (same key and hash: the first entry; another hash: a conflict), check the accounts,
move constrained balances in sorted id order never below their pending holds, insert the postings
and queue the entry's audit row in `audit_pending`. A refused posting leaves nothing written: its
writes run in a block whose exception handler rolls them back, and the outcome names the refusal.

`audit_pending`: money writes no longer take the audit chain's lock (it serialised every ledger
write, commit included); core.audit.service.chain_pending appends these rows to the HMAC chain,
oldest first, in the transaction that deletes them. Rows cannot be edited (trigger); `kibeti
ledger verify` checks every entry and resolved hold has its audit row, chained or queued.

Revision ID: ledger_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ledger_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ledger",)
depends_on: str | Sequence[str] | None = ("core_0001", "core_0102_audit_keyed")

POST_ENTRY = """
CREATE OR REPLACE FUNCTION ledger_post_entry(
    p_key text, p_hash text, p_kind text, p_memo text, p_details text,
    p_accounts integer[], p_assets text[], p_amounts bigint[], p_now timestamptz,
    OUT entry_id bigint, OUT outcome text, OUT bad_account integer
) LANGUAGE plpgsql AS $$
DECLARE
    v_hash text;
    v_leg record;
    v_legs json;
BEGIN
    BEGIN
        INSERT INTO ledger_entries (idempotency_key, request_hash, kind, memo, details, created_at)
        VALUES (p_key, p_hash, p_kind, p_memo, p_details::json, p_now)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id INTO entry_id;
        IF entry_id IS NULL THEN
            SELECT e.id, e.request_hash INTO entry_id, v_hash
            FROM ledger_entries e WHERE e.idempotency_key = p_key;
            outcome := CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
            RETURN;
        END IF;
        FOR v_leg IN
            SELECT x.id, x.asset, a.id AS found, a.asset AS held, a.closed
            FROM unnest(p_accounts, p_assets) WITH ORDINALITY AS x(id, asset, n)
            LEFT JOIN ledger_accounts a ON a.id = x.id
            ORDER BY x.n
        LOOP
            bad_account := v_leg.id;
            IF v_leg.found IS NULL THEN
                outcome := 'unknown_account';
            ELSIF v_leg.closed THEN
                outcome := 'account_closed';
            ELSIF v_leg.held <> v_leg.asset THEN
                outcome := 'wrong_asset';
            END IF;
            IF outcome IS NOT NULL THEN
                RAISE EXCEPTION USING ERRCODE = 'KB001';
            END IF;
        END LOOP;
        FOR v_leg IN
            SELECT x.id, sum(x.amount)::bigint AS delta
            FROM unnest(p_accounts, p_amounts) AS x(id, amount)
            JOIN ledger_accounts a ON a.id = x.id AND a.constrained
            GROUP BY x.id
            ORDER BY x.id
        LOOP
            bad_account := v_leg.id;
            UPDATE ledger_accounts SET balance = balance + v_leg.delta
            WHERE id = v_leg.id AND (v_leg.delta >= 0 OR balance + v_leg.delta >= pending_out);
            IF NOT FOUND THEN
                outcome := 'insufficient_funds';
                RAISE EXCEPTION USING ERRCODE = 'KB001';
            END IF;
        END LOOP;
        bad_account := NULL;
        INSERT INTO ledger_postings (entry_id, account_id, asset, amount)
        SELECT entry_id, x.id, x.asset, x.amount
        FROM unnest(p_accounts, p_assets, p_amounts) WITH ORDINALITY AS x(id, asset, amount, n)
        ORDER BY x.n;
        SELECT json_agg(json_build_array(x.id, x.asset, x.amount) ORDER BY x.n) INTO v_legs
        FROM unnest(p_accounts, p_assets, p_amounts) WITH ORDINALITY AS x(id, asset, amount, n);
        INSERT INTO audit_pending (occurred_at, actor, action, subject, details)
        VALUES (p_now, 'system', left('money.' || p_kind, 100), 'ledger_entry:' || entry_id,
                json_build_object('entry_id', entry_id, 'idempotency_key', p_key, 'legs', v_legs));
        outcome := 'posted';
    EXCEPTION WHEN SQLSTATE 'KB001' THEN
        entry_id := NULL;
    END;
END;
$$;
"""

NO_UPDATE = """
CREATE OR REPLACE FUNCTION audit_pending_no_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_pending rows cannot be edited';
END;
$$ LANGUAGE plpgsql
"""

NO_UPDATE_TRIGGER = """
CREATE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending
FOR EACH ROW EXECUTE FUNCTION audit_pending_no_update();
"""


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NO_UPDATE)
        op.execute(NO_UPDATE_TRIGGER)
        op.execute(POST_ENTRY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_post_entry")
        op.execute("DROP TRIGGER IF EXISTS audit_pending_no_update ON audit_pending")
        op.execute("DROP FUNCTION IF EXISTS audit_pending_no_update")
    op.drop_table("audit_pending")
