"""The posting functions run generic plans; postings no longer share-lock their account rows.

Two server costs of every posting, measured with the function under pgbench's C client at 32
clients (BENCHMARKS.md, "Ledger"):
- plpgsql planned its statements' custom plans afresh on every call (the array arguments' custom
  plans looked cheaper than the generic ones, so the plan cache never switched): about a fifth of
  a posting's server CPU. Their generic plans are the same index probes, so the functions now say
  `plan_cache_mode = force_generic_plan`. (A later CREATE OR REPLACE must keep the SET clause.)
- The foreign key from ledger_postings.account_id to ledger_accounts: its check took FOR KEY SHARE
  on the account row of every leg, and every send's fee leg names the one fee account, so
  concurrent postings piled shared locks (multixacts) onto that row: 12-20% of the server CPU.
  What the key promised holds without it: the posting function is the only writer of postings on
  PostgreSQL and refuses an unknown account in the same transaction (on SQLite the service checks
  first); accounts are never deleted, which a trigger now enforces; and `kibeti ledger verify`
  reports any posting whose account is missing or holds another asset. The entry key stays.

Revision ID: ledger_0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledger_0005"
down_revision: str | Sequence[str] | None = "ledger_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNT_KEY = "fk_ledger_postings_account_id_ledger_accounts"
FUNCTIONS = ("ledger_post_entry", "ledger_post_hold", "ledger_place_hold", "ledger_void_hold")

PG_NO_DELETE = """
CREATE OR REPLACE FUNCTION ledger_accounts_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger accounts are never deleted (close them instead)';
END;
$$
"""
PG_TRIGGER = """
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_no_delete()
"""

SQLITE_NO_DELETE = """
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
BEGIN
    SELECT RAISE(ABORT, 'ledger accounts are never deleted (close them instead)');
END;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in FUNCTIONS:
            op.execute(f"ALTER FUNCTION {name} SET plan_cache_mode = force_generic_plan")
        op.drop_constraint(ACCOUNT_KEY, "ledger_postings", type_="foreignkey")
        op.execute(PG_NO_DELETE)
        op.execute(PG_TRIGGER)
        return
    with op.batch_alter_table("ledger_postings") as batch:
        batch.drop_constraint(ACCOUNT_KEY, type_="foreignkey")
    op.execute(SQLITE_NO_DELETE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_accounts_no_delete ON ledger_accounts")
        op.execute("DROP FUNCTION IF EXISTS ledger_accounts_no_delete")
        for name in FUNCTIONS:
            op.execute(f"ALTER FUNCTION {name} RESET plan_cache_mode")
        op.create_foreign_key(ACCOUNT_KEY, "ledger_postings", "ledger_accounts", ["account_id"], ["id"])
        return
    op.execute("DROP TRIGGER IF EXISTS ledger_accounts_no_delete")
    with op.batch_alter_table("ledger_postings") as batch:
        batch.create_foreign_key(ACCOUNT_KEY, "ledger_accounts", ["account_id"], ["id"])
