"""settlements: merchant refunds (to the payer's Kibeti wallet, or to a crypto address by link)

Revision ID: settlements_0002
Revises: settlements_0001
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "settlements_0002"
down_revision: str | Sequence[str] | None = "settlements_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "merchant_refunds",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("credit_id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("payout_minor", sa.BigInteger(), nullable=False),
        sa.Column("network_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("withdrawal_id", sa.BigInteger(), nullable=True),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("failure", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_refunds")),
        sa.UniqueConstraint("public_id", name=op.f("uq_merchant_refunds_public_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_merchant_refunds_idempotency_key")),
    )
    for column in ("merchant_id", "credit_id", "status", "token_hash"):
        op.create_index(op.f(f"ix_merchant_refunds_{column}"), "merchant_refunds", [column])


def downgrade() -> None:
    op.drop_table("merchant_refunds")
