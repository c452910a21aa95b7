"""payout fee: what a failed payout refunds with its principal

Revision ID: payments_0002
Revises: payments_0001
Create Date: 2026-12-05 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0002"
down_revision: str | Sequence[str] | None = "payments_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payouts", sa.Column("fee_minor", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("payouts", "fee_minor")
