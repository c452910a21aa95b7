"""ledger_post_entry checks before it writes: no subtransaction, two statements fewer per posting.

The key is looked up first (an existing entry: replayed or conflict, nothing written); the
constrained accounts are locked in id order (FOR UPDATE) and every leg checked (account known,
open, same asset, no constrained balance below its pending holds) before the entry is inserted,
so a refusal writes nothing and needs no exception block. A refusal rechecks the key: a retry
that waited on the first attempt's locks answers with the first entry, as on SQLite.

Revision ID: ledger_0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledger_0002"
down_revision: str | Sequence[str] | None = "ledger_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POST_ENTRY = """
CREATE OR REPLACE FUNCTION ledger_post_entry(
    p_key text, p_hash text, p_kind text, p_memo text, p_details text,
    p_accounts integer[], p_assets text[], p_amounts bigint[], p_now timestamptz,
    OUT entry_id bigint, OUT outcome text, OUT bad_account integer
) LANGUAGE plpgsql AS $$
DECLARE
    v_hash text;
BEGIN
    SELECT e.id, e.request_hash INTO entry_id, v_hash FROM ledger_entries e WHERE e.idempotency_key = p_key;
    IF FOUND THEN
        outcome := CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
        RETURN;
    END IF;
    PERFORM 1 FROM ledger_accounts a
    WHERE a.id = ANY(p_accounts) AND a.constrained
    ORDER BY a.id
    FOR UPDATE;
    SELECT x.id,
           CASE WHEN a.id IS NULL THEN 'unknown_account'
                WHEN a.closed THEN 'account_closed'
                WHEN a.asset <> x.asset THEN 'wrong_asset' END
    INTO bad_account, outcome
    FROM unnest(p_accounts, p_assets) WITH ORDINALITY AS x(id, asset, n)
    LEFT JOIN ledger_accounts a ON a.id = x.id
    WHERE a.id IS NULL OR a.closed OR a.asset <> x.asset
    ORDER BY x.n
    LIMIT 1;
    IF outcome IS NULL THEN
        SELECT d.id, 'insufficient_funds' INTO bad_account, outcome
        FROM (SELECT x.id, sum(x.amount) AS delta FROM unnest(p_accounts, p_amounts) AS x(id, amount)
              GROUP BY x.id) d
        JOIN ledger_accounts a ON a.id = d.id AND a.constrained
        WHERE d.delta < 0 AND a.balance + d.delta < a.pending_out
        ORDER BY d.id
        LIMIT 1;
    END IF;
    IF outcome IS NULL THEN
        INSERT INTO ledger_entries (idempotency_key, request_hash, kind, memo, details, created_at)
        VALUES (p_key, p_hash, p_kind, p_memo, p_details::json, p_now)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id INTO entry_id;
        IF entry_id IS NOT NULL THEN
            UPDATE ledger_accounts a SET balance = a.balance + d.delta
            FROM (SELECT x.id, sum(x.amount) AS delta FROM unnest(p_accounts, p_amounts) AS x(id, amount)
                  GROUP BY x.id) d
            WHERE a.id = d.id AND a.constrained;
            INSERT INTO ledger_postings (entry_id, account_id, asset, amount)
            SELECT entry_id, x.id, x.asset, x.amount
            FROM unnest(p_accounts, p_assets, p_amounts) WITH ORDINALITY AS x(id, asset, amount, n)
            ORDER BY x.n;
            INSERT INTO audit_pending (occurred_at, actor, action, subject, details)
            SELECT p_now, 'system', left('money.' || p_kind, 100), 'ledger_entry:' || entry_id,
                   json_build_object('entry_id', entry_id, 'idempotency_key', p_key,
                                     'legs', json_agg(json_build_array(x.id, x.asset, x.amount) ORDER BY x.n))
            FROM unnest(p_accounts, p_assets, p_amounts) WITH ORDINALITY AS x(id, asset, amount, n);
            outcome := 'posted';
            bad_account := NULL;
            RETURN;
        END IF;
    END IF;
    -- refused, or the key was inserted meanwhile: an entry under the key now answers for it
    SELECT e.id, e.request_hash INTO entry_id, v_hash FROM ledger_entries e WHERE e.idempotency_key = p_key;
    IF FOUND THEN
        outcome := CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
        bad_account := NULL;
    END IF;
END;
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POST_ENTRY)


def downgrade() -> None:
    pass  # ledger_0001's definition is replaced; its downgrade drops the function
