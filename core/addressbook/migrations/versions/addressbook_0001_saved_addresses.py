"""saved withdrawal addresses

Revision ID: addressbook_0001
Revises:
Create Date: 2026-12-05 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "addressbook_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("addressbook",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved_addresses",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=24), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_addresses")),
        sa.UniqueConstraint(
            "customer_id", "asset", "address", name=op.f("uq_saved_addresses_customer_id_asset_address")
        ),
    )
    op.create_index(op.f("ix_saved_addresses_customer_id"), "saved_addresses", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_addresses_customer_id"), table_name="saved_addresses")
    op.drop_table("saved_addresses")
