"""ledger_post_entry moves balances with one conditional UPDATE per constrained account.

The plan of ledger_0002's checks read every account row (a sequential scan of ledger_accounts under
FOR UPDATE in the generic plan, then a hash join for the funds check and another for the update):
most of a posting's server CPU. Now: the key is looked up; one statement checks every leg in leg
order (known, open, same asset: index probes) and lists the constrained accounts; each constrained
account, in id order (the lock order), takes its net delta in one
`UPDATE ... WHERE NOT closed AND (delta >= 0 OR balance + delta >= pending_out)`: the row lock, the
check and the move at once. The entry, its postings and its audit row are one statement. A refusal
(not enough, closed meanwhile) or a key taken meanwhile puts back the balances moved before it, so
nothing is written, and an entry under the key answers for it, as before.

Revision ID: ledger_0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledger_0004"
down_revision: str | Sequence[str] | None = "ledger_0003"
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
    v_constrained integer[];
    v_moved integer := 0;
    v_id integer;
    v_delta bigint;
    v_legs integer := array_length(p_accounts, 1);
BEGIN
    SELECT e.id, e.request_hash INTO entry_id, v_hash FROM ledger_entries e WHERE e.idempotency_key = p_key;
    IF FOUND THEN
        outcome := CASE WHEN v_hash = p_hash THEN 'replayed' ELSE 'conflict' END;
        RETURN;
    END IF;
    SELECT (array_agg(x.id ORDER BY x.n) FILTER (WHERE a.id IS NULL OR a.closed OR a.asset <> x.asset))[1],
           (array_agg(CASE WHEN a.id IS NULL THEN 'unknown_account' WHEN a.closed THEN 'account_closed'
                           ELSE 'wrong_asset' END ORDER BY x.n)
                FILTER (WHERE a.id IS NULL OR a.closed OR a.asset <> x.asset))[1],
           array_agg(DISTINCT x.id ORDER BY x.id) FILTER (WHERE a.constrained)
    INTO bad_account, outcome, v_constrained
    FROM unnest(p_accounts, p_assets) WITH ORDINALITY AS x(id, asset, n)
    LEFT JOIN ledger_accounts a ON a.id = x.id;
    IF outcome IS NULL AND v_constrained IS NOT NULL THEN
        FOREACH v_id IN ARRAY v_constrained LOOP
            v_delta := 0;
            FOR i IN 1..v_legs LOOP
                IF p_accounts[i] = v_id THEN
                    v_delta := v_delta + p_amounts[i];
                END IF;
            END LOOP;
            UPDATE ledger_accounts a SET balance = a.balance + v_delta
            WHERE a.id = v_id AND NOT a.closed AND (v_delta >= 0 OR a.balance + v_delta >= a.pending_out);
            IF NOT FOUND THEN
                bad_account := v_id;
                outcome := CASE WHEN EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = v_id AND a.closed)
                                THEN 'account_closed' ELSE 'insufficient_funds' END;
                EXIT;
            END IF;
            v_moved := v_moved + 1;
        END LOOP;
    END IF;
    IF outcome IS NULL THEN
        WITH entry AS (
            INSERT INTO ledger_entries (idempotency_key, request_hash, kind, memo, details, created_at)
            VALUES (p_key, p_hash, p_kind, p_memo, p_details::json, p_now)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id
        ), postings AS (
            INSERT INTO ledger_postings (entry_id, account_id, asset, amount)
            SELECT entry.id, x.id, x.asset, x.amount
            FROM entry, unnest(p_accounts, p_assets, p_amounts) WITH ORDINALITY AS x(id, asset, amount, n)
            ORDER BY x.n
        ), audited AS (
            INSERT INTO audit_pending (occurred_at, actor, action, subject, details)
            SELECT p_now, 'system', left('money.' || p_kind, 100), 'ledger_entry:' || entry.id,
                   json_build_object('entry_id', entry.id, 'idempotency_key', p_key,
                                     'legs', (SELECT json_agg(json_build_array(x.id, x.asset, x.amount)
                                                              ORDER BY x.n)
                                              FROM unnest(p_accounts, p_assets, p_amounts)
                                                   WITH ORDINALITY AS x(id, asset, amount, n)))
            FROM entry
        )
        SELECT entry.id INTO entry_id FROM entry;
        IF entry_id IS NOT NULL THEN
            outcome := 'posted';
            RETURN;
        END IF;
    END IF;
    -- refused, or the key was taken meanwhile: the balances moved here are put back (nothing was
    -- written), and an entry under the key answers for it
    FOR i IN 1..v_moved LOOP
        v_id := v_constrained[i];
        v_delta := 0;
        FOR j IN 1..v_legs LOOP
            IF p_accounts[j] = v_id THEN
                v_delta := v_delta + p_amounts[j];
            END IF;
        END LOOP;
        UPDATE ledger_accounts a SET balance = a.balance - v_delta WHERE a.id = v_id;
    END LOOP;
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
    pass  # ledger_0002's definition is replaced; ledger_0001's downgrade drops the function
