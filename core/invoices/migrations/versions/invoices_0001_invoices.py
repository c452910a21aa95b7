"""invoices: invoices, their payment methods (one address per network), payments and event log

Revision ID: invoices_0001
Revises:
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "invoices_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("invoices",)
depends_on: str | Sequence[str] | None = ("core_0001", "merchants_0003")

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("kes_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("usd_kes_rate", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("buyer_phone", sa.String(length=16), nullable=False),
        sa.Column("buyer_email", sa.String(length=254), nullable=False),
        sa.Column("redirect_url", sa.String(length=500), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("additional_status", sa.String(length=16), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("tolerance_bps", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("monitoring_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_key", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_invoices_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("public_id", name=op.f("uq_invoices_public_id")),
    )
    op.create_index("ix_invoices_merchant_id_id", "invoices", ["merchant_id", "id"], unique=False)
    op.create_index("ix_invoices_status_expires_at", "invoices", ["status", "expires_at"], unique=False)
    op.create_table(
        "invoice_methods",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("rate_source", sa.String(length=80), nullable=False),
        sa.Column("due_minor", sa.BigInteger(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_methods_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_methods")),
        sa.UniqueConstraint("invoice_id", "asset", name=op.f("uq_invoice_methods_invoice_id_asset")),
    )
    op.create_table(
        "invoice_payments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_payments_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_payments")),
        sa.UniqueConstraint("source", "asset", "reference", name=op.f("uq_invoice_payments_source_asset_reference")),
    )
    op.create_index(op.f("ix_invoice_payments_invoice_id"), "invoice_payments", ["invoice_id"], unique=False)
    op.create_table(
        "invoice_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("additional_status", sa.String(length=16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_events_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_events")),
    )
    op.create_index(op.f("ix_invoice_events_invoice_id"), "invoice_events", ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_table("invoice_events")
    op.drop_table("invoice_payments")
    op.drop_table("invoice_methods")
    op.drop_index("ix_invoices_status_expires_at", table_name="invoices")
    op.drop_index("ix_invoices_merchant_id_id", table_name="invoices")
    op.drop_table("invoices")
