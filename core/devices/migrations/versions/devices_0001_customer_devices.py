"""customer_devices: the customer portal's device sessions

Revision ID: devices_0001
Revises:
Create Date: 2026-12-05 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "devices_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("devices",)
depends_on: str | Sequence[str] | None = "core_0001"

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customer_devices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_seen_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("revoked_at", When, nullable=True),
        sa.Column("revoked_by", sa.String(120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_devices")),
    )
    op.create_index(op.f("ix_customer_devices_customer_id"), "customer_devices", ["customer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_devices_customer_id"), table_name="customer_devices")
    op.drop_table("customer_devices")
