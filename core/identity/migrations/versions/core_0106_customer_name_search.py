"""customers: a trigram index on name for the staff portal's name search (ILIKE 'prefix%')

PostgreSQL: pg_trgm's GIN index serves a case-insensitive prefix (or infix) match without changing
the query. SQLite (the embedded default): a plain index on name, same name, so the schema matches the
models on both.

Revision ID: core_0106_customer_name_search
Revises: core_0105_audit_subject_index
Create Date: 2026-12-05 10:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "core_0106_customer_name_search"
down_revision: str | Sequence[str] | None = "core_0105_audit_subject_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_customers_name_trgm", "customers", ["name"], postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )  # fmt: skip
    else:
        op.create_index("ix_customers_name_trgm", "customers", ["name"])


def downgrade() -> None:
    op.drop_index("ix_customers_name_trgm", table_name="customers")
