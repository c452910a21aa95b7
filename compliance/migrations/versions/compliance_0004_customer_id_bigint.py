"""compliance: customer ids in 64-bit columns, as customers.id is

Every `customer_id` here was a 32-bit INTEGER while `customers.id` is a BIGINT on PostgreSQL: a
customer numbered past 2,147,483,647 could not be screened, limited, alerted or reported on.
SQLite stores every integer in 64 bits; its columns are declared BIGINT to match the models.

Revision ID: compliance_0004
Revises: compliance_0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "compliance_0004"
down_revision: str | Sequence[str] | None = "compliance_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, nullable) of every compliance table holding a customer id
COLUMNS = (
    ("compliance_kyc_profiles", False),
    ("compliance_kyc_documents", False),
    ("compliance_movements", False),
    ("compliance_screening_results", True),
    ("compliance_alerts", True),
    ("compliance_cases", True),
    ("compliance_reports", True),
)


def _alter(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, nullable in COLUMNS:
        # batch: SQLite rebuilds the table (it cannot ALTER a column type); PostgreSQL runs ALTER COLUMN
        with op.batch_alter_table(table) as batch:
            batch.alter_column("customer_id", type_=new, existing_type=old, existing_nullable=nullable)


def upgrade() -> None:
    _alter(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    _alter(sa.BigInteger(), sa.Integer())
