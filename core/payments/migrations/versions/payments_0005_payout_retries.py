"""staff retries of failed payouts under maker-checker (one per failed payout)

Revision ID: payments_0005
Revises: payments_0004
Create Date: 2026-12-05 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0005"
down_revision: str | Sequence[str] | None = "payments_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payout_retries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payout_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("maker_id", sa.BigInteger(), nullable=False),
        sa.Column("checker_id", sa.BigInteger(), nullable=True),
        sa.Column("retry_payout_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_retries")),
        sa.UniqueConstraint("payout_id", name=op.f("uq_payout_retries_payout_id")),
    )
    op.create_index(op.f("ix_payout_retries_status"), "payout_retries", ["status"])


def downgrade() -> None:
    op.drop_table("payout_retries")
