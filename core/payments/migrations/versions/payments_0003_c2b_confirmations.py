"""paybill (C2B) payments pending until Daraja's Transaction Status confirms them

Revision ID: payments_0003
Revises: payments_0002
Create Date: 2026-12-05 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0003"
down_revision: str | Sequence[str] | None = "payments_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mpesa_c2b_payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("trans_id", sa.String(length=40), nullable=False),
        sa.Column("claimed_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("bill_ref", sa.String(length=40), nullable=False),
        sa.Column("payer", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("shortcode", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("query_originator_id", sa.String(length=64), nullable=True),
        sa.Column("query_conversation_id", sa.String(length=64), nullable=True),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_c2b_payments")),
        sa.UniqueConstraint("trans_id", name=op.f("uq_mpesa_c2b_payments_trans_id")),
    )
    op.create_index(op.f("ix_mpesa_c2b_payments_status"), "mpesa_c2b_payments", ["status"])
    op.create_index(op.f("ix_mpesa_c2b_payments_customer_id"), "mpesa_c2b_payments", ["customer_id"])
    op.create_index(
        op.f("ix_mpesa_c2b_payments_query_originator_id"), "mpesa_c2b_payments", ["query_originator_id"]
    )
    op.create_index(
        op.f("ix_mpesa_c2b_payments_query_conversation_id"), "mpesa_c2b_payments", ["query_conversation_id"]
    )
    op.create_index(op.f("ix_mpesa_c2b_payments_updated_at"), "mpesa_c2b_payments", ["updated_at"])


def downgrade() -> None:
    op.drop_table("mpesa_c2b_payments")
