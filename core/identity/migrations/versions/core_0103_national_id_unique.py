"""customers: one customer per national ID (a unique index; the use case's check alone races)

Fails with the duplicated IDs' count if the table already holds duplicates: those need a person
to decide which customer keeps the ID before the index can be built.

Revision ID: core_0103_national_id_unique
Revises: core_0102_audit_keyed
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0103_national_id_unique"
down_revision: str | Sequence[str] | None = "core_0102_audit_keyed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUPLICATES = sa.text(
    "SELECT count(*) FROM (SELECT national_id FROM customers WHERE national_id IS NOT NULL"
    " GROUP BY national_id HAVING count(*) > 1) AS duplicated"
)


def upgrade() -> None:
    duplicated = op.get_bind().execute(DUPLICATES).scalar_one()
    if duplicated:
        raise RuntimeError(
            f"{duplicated} national IDs are held by more than one customer: decide who keeps each "
            "(customers grouped by national_id having more than one row), then migrate again"
        )
    op.create_index("uq_customers_national_id", "customers", ["national_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_customers_national_id", table_name="customers")
