"""mpesa api-call audit

Revision ID: payouts_0001
Revises:
Create Date: 2026-11-26 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payouts_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("payouts",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "mpesa_api_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("api", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=120), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_api_calls")),
    )
    op.create_index(op.f("ix_mpesa_api_calls_api"), "mpesa_api_calls", ["api"])
    op.create_index(op.f("ix_mpesa_api_calls_reference"), "mpesa_api_calls", ["reference"])
    op.create_index(op.f("ix_mpesa_api_calls_created_at"), "mpesa_api_calls", ["created_at"])


def downgrade() -> None:
    op.drop_table("mpesa_api_calls")
