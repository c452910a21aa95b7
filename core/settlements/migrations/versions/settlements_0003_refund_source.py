"""settlements: a refund of what is left on an invoice's own account (an overpayment, a payment too
small or too late) names that account

Revision ID: settlements_0003
Revises: settlements_0002
Create Date: 2026-12-05 09:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlements_0003"
down_revision: str | Sequence[str] | None = "settlements_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("merchant_refunds", sa.Column("source_account_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("merchant_refunds", "source_account_id")
