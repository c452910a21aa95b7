"""refunds of rail payments, recorded before the provider is asked (pending, unknown, refunded, ...)

Revision ID: rails_0002
Revises: rails_0001
Create Date: 2026-12-05 16:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rails_0002"
down_revision: str | Sequence[str] | None = "rails_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rail_refunds",
        sa.Column("id", BigId, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("rail", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_before_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        # the order's id while the refund is open (pending or unknown), else NULL: one open per order
        sa.Column("open_order_id", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_email", sa.String(length=254), nullable=False),
        sa.Column("remarks", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=255), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_order_id"),
    )
    op.create_index("ix_rail_refunds_order_id", "rail_refunds", ["order_id"])
    op.create_index("ix_rail_refunds_status", "rail_refunds", ["status"])


def downgrade() -> None:
    op.drop_table("rail_refunds")
