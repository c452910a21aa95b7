"""The ledger's tables refuse TRUNCATE on PostgreSQL, as audit_log does (core_0102).

Since ledger_0005 postings carry no foreign key to their account, so `TRUNCATE ledger_accounts
CASCADE` would empty the accounts (and holds) and leave postings naming nothing; a TRUNCATE of the
entries or postings would erase the books outright. Entries are never edited or removed; accounts
are closed, never deleted (ledger_0005's DELETE trigger). SQLite has no TRUNCATE.

Revision ID: ledger_0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledger_0007"
down_revision: str | Sequence[str] | None = "ledger_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("ledger_accounts", "ledger_entries", "ledger_postings")

NO_TRUNCATE = """
CREATE OR REPLACE FUNCTION ledger_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger''s books are never truncated (% refused)', TG_TABLE_NAME;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(NO_TRUNCATE)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_no_truncate()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ledger_no_truncate")
