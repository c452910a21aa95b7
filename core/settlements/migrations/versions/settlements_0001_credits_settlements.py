"""settlements: merchant credits and settlements to M-Pesa

Revision ID: settlements_0001
Revises:
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlements_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("settlements",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "merchant_credits",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("payer", sa.String(length=20), nullable=False),
        sa.Column("payer_customer_id", sa.BigInteger(), nullable=True),
        sa.Column("paid_asset", sa.String(length=16), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("settlement_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_credits")),
        sa.UniqueConstraint("source", "source_ref", name=op.f("uq_merchant_credits_source_source_ref")),
    )
    op.create_index(op.f("ix_merchant_credits_merchant_id"), "merchant_credits", ["merchant_id"])
    op.create_index(op.f("ix_merchant_credits_settlement_id"), "merchant_credits", ["settlement_id"])
    op.create_index(op.f("ix_merchant_credits_created_at"), "merchant_credits", ["created_at"])
    op.create_table(
        "merchant_settlements",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.String(length=20), nullable=False),
        sa.Column("account_reference", sa.String(length=20), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunds_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("payout_id", sa.String(length=40), nullable=False),
        sa.Column("receipt", sa.String(length=32), nullable=True),
        sa.Column("failure", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_settlements")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_merchant_settlements_idempotency_key")),
        sa.UniqueConstraint("payout_id", name=op.f("uq_merchant_settlements_payout_id")),
    )
    op.create_index(op.f("ix_merchant_settlements_merchant_id"), "merchant_settlements", ["merchant_id"])
    op.create_index(op.f("ix_merchant_settlements_status"), "merchant_settlements", ["status"])
    op.create_index(op.f("ix_merchant_settlements_created_at"), "merchant_settlements", ["created_at"])


def downgrade() -> None:
    op.drop_table("merchant_settlements")
    op.drop_table("merchant_credits")
