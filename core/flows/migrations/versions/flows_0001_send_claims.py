"""send claims for unregistered recipients

Revision ID: flows_0001
Revises:
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "flows_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("flows",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "flow_send_claims",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_send_claims")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_flow_send_claims_idempotency_key")),
    )
    op.create_index(op.f("ix_flow_send_claims_phone"), "flow_send_claims", ["phone"], unique=False)
    op.create_index(op.f("ix_flow_send_claims_status"), "flow_send_claims", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_flow_send_claims_status"), table_name="flow_send_claims")
    op.drop_index(op.f("ix_flow_send_claims_phone"), table_name="flow_send_claims")
    op.drop_table("flow_send_claims")
