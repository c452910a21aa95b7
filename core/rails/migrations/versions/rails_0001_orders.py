"""collection orders on a hosted rail (PesaPal) and the notifications it sent

Revision ID: rails_0001
Revises:
Create Date: 2026-12-05 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rails_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("rails",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rail_orders",
        sa.Column("id", BigId, nullable=False),
        sa.Column("rail", sa.String(length=16), nullable=False),
        sa.Column("merchant_reference", sa.String(length=50), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("quote_id", sa.BigInteger(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tracking_id", sa.String(length=64), nullable=True),
        sa.Column("redirect_url", sa.String(length=500), nullable=False),
        sa.Column("link_code", sa.String(length=16), nullable=False),
        sa.Column("confirmation", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("provider_status", sa.String(length=32), nullable=False),
        sa.Column("flag_reason", sa.String(length=255), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("reversal_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("hints", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("merchant_reference"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("tracking_id"),
        sa.UniqueConstraint("link_code"),
    )
    op.create_index("ix_rail_orders_customer_id", "rail_orders", ["customer_id"])
    op.create_index("ix_rail_orders_status", "rail_orders", ["status"])
    op.create_index("ix_rail_orders_updated_at", "rail_orders", ["updated_at"])
    op.create_table(
        "rail_notices",
        sa.Column("id", BigId, nullable=False),
        sa.Column("rail", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("tracking_id", sa.String(length=64), nullable=False),
        sa.Column("merchant_reference", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rail_notices_tracking_id", "rail_notices", ["tracking_id"])
    op.create_index("ix_rail_notices_created_at", "rail_notices", ["created_at"])


def downgrade() -> None:
    op.drop_table("rail_notices")
    op.drop_table("rail_orders")
