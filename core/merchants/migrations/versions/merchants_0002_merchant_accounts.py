"""merchants: KRA PIN, settlement, fee rate, till code, status; API keys point at a real merchant

Revision ID: merchants_0002
Revises: merchants_0001
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "merchants_0002"
down_revision: str | Sequence[str] | None = "merchants_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "core_0101_identity"


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("status", sa.String(length=12), nullable=False, server_default="pending"))
        batch.add_column(sa.Column("till_code", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("kra_pin", sa.String(length=11), nullable=False, server_default=""))
        batch.add_column(sa.Column("registration_number", sa.String(length=40), nullable=False, server_default=""))
        batch.add_column(sa.Column("directors", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("contact_phone", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(sa.Column("notification_phones", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("language", sa.String(length=2), nullable=False, server_default="en"))
        batch.add_column(sa.Column("settlement_method", sa.String(length=8), nullable=False, server_default="phone"))
        batch.add_column(sa.Column("settlement_till", sa.String(length=10), nullable=False, server_default=""))
        batch.add_column(sa.Column("settlement_paybill", sa.String(length=10), nullable=False, server_default=""))
        batch.add_column(sa.Column("settlement_account", sa.String(length=20), nullable=False, server_default=""))
        batch.add_column(sa.Column("settlement_phone", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("settlement_schedule", sa.String(length=8), nullable=False, server_default="instant")
        )
        batch.add_column(
            sa.Column("settlement_minimum_minor", sa.BigInteger(), nullable=False, server_default="1000")
        )
        batch.add_column(sa.Column("fee_bps", sa.Integer(), nullable=False, server_default="150"))
        batch.add_column(sa.Column("invoice_expiry_minutes", sa.Integer(), nullable=False, server_default="15"))
        batch.add_column(sa.Column("payment_tolerance_bps", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("invoice_limit_minor", sa.BigInteger(), nullable=False, server_default="100000000")
        )
        batch.add_column(sa.Column("screening_outcome", sa.String(length=12), nullable=False, server_default=""))
        batch.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("suspension_reason", sa.String(length=200), nullable=False, server_default=""))
    op.execute("UPDATE merchants SET status = CASE WHEN active THEN 'active' ELSE 'suspended' END")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("active")
        batch.create_unique_constraint(op.f("uq_merchants_till_code"), ["till_code"])
        batch.create_check_constraint(op.f("ck_merchants_fee_bps_range"), "fee_bps >= 100 AND fee_bps <= 200")
        batch.create_check_constraint(
            op.f("ck_merchants_tolerance_range"), "payment_tolerance_bps >= 0 AND payment_tolerance_bps <= 1000"
        )
        batch.create_check_constraint(
            op.f("ck_merchants_expiry_range"), "invoice_expiry_minutes >= 1 AND invoice_expiry_minutes <= 1440"
        )
    with op.batch_alter_table("api_keys") as batch:
        batch.create_foreign_key(op.f("fk_api_keys_merchant_id_merchants"), "merchants", ["merchant_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("fk_api_keys_merchant_id_merchants"), type_="foreignkey")
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE merchants SET active = (status = 'active')")
    with op.batch_alter_table("merchants") as batch:
        for name in ("ck_merchants_expiry_range", "ck_merchants_tolerance_range", "ck_merchants_fee_bps_range"):
            batch.drop_constraint(op.f(name), type_="check")
        batch.drop_constraint(op.f("uq_merchants_till_code"), type_="unique")
        for column in (
            "status", "till_code", "kra_pin", "registration_number", "directors", "contact_phone",
            "notification_phones", "language", "settlement_method", "settlement_till", "settlement_paybill",
            "settlement_account", "settlement_phone", "settlement_schedule", "settlement_minimum_minor",
            "fee_bps", "invoice_expiry_minutes", "payment_tolerance_bps", "invoice_limit_minor",
            "screening_outcome", "activated_at", "suspended_at", "suspension_reason",
        ):  # fmt: skip
            batch.drop_column(column)
