"""mpesa collections, payouts, raw callbacks

Revision ID: payments_0001
Revises:
Create Date: 2026-11-26 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("payments",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("originator_conversation_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("status_query_id", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.String(length=32), nullable=True),
        sa.Column("result_code", sa.String(length=32), nullable=True),
        sa.Column("result_desc", sa.String(length=255), nullable=True),
        sa.Column("remarks", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payouts_idempotency_key")),
        sa.UniqueConstraint("originator_conversation_id", name=op.f("uq_payouts_originator_conversation_id")),
    )
    op.create_index(op.f("ix_payouts_customer_id"), "payouts", ["customer_id"])
    op.create_index(op.f("ix_payouts_merchant_id"), "payouts", ["merchant_id"])
    op.create_index(op.f("ix_payouts_status"), "payouts", ["status"])
    op.create_index(op.f("ix_payouts_conversation_id"), "payouts", ["conversation_id"])
    op.create_index(op.f("ix_payouts_status_query_id"), "payouts", ["status_query_id"])
    op.create_index(op.f("ix_payouts_updated_at"), "payouts", ["updated_at"])

    op.create_table(
        "mpesa_collections",
        sa.Column("id", BigId, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checkout_request_id", sa.String(length=64), nullable=True),
        sa.Column("merchant_request_id", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.String(length=32), nullable=True),
        sa.Column("result_code", sa.String(length=32), nullable=True),
        sa.Column("result_desc", sa.String(length=255), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("raw_callback", sa.JSON(), nullable=True),
        sa.Column("flag_reason", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_collections")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_mpesa_collections_idempotency_key")),
        sa.UniqueConstraint("checkout_request_id", name=op.f("uq_mpesa_collections_checkout_request_id")),
    )
    op.create_index(op.f("ix_mpesa_collections_customer_id"), "mpesa_collections", ["customer_id"])
    op.create_index(op.f("ix_mpesa_collections_status"), "mpesa_collections", ["status"])
    op.create_index(op.f("ix_mpesa_collections_updated_at"), "mpesa_collections", ["updated_at"])

    op.create_table(
        "mpesa_callbacks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("processed", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_reason", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_callbacks")),
    )
    op.create_index(op.f("ix_mpesa_callbacks_kind"), "mpesa_callbacks", ["kind"])
    op.create_index(op.f("ix_mpesa_callbacks_reference"), "mpesa_callbacks", ["reference"])
    op.create_index(op.f("ix_mpesa_callbacks_processed"), "mpesa_callbacks", ["processed"])
    op.create_index(op.f("ix_mpesa_callbacks_flagged"), "mpesa_callbacks", ["flagged"])


def downgrade() -> None:
    op.drop_table("mpesa_callbacks")
    op.drop_table("mpesa_collections")
    op.drop_table("payouts")
