"""mpesa api-call audit rows keyed by the call: a retried write adds nothing (ON CONFLICT DO NOTHING)

Revision ID: payouts_0002
Revises: payouts_0001
Create Date: 2026-12-05 18:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payouts_0002"
down_revision: str | Sequence[str] | None = "payouts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for the rows written before: a unique index allows any number of them
    op.add_column("mpesa_api_calls", sa.Column("call_id", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_mpesa_api_calls_call_id"), "mpesa_api_calls", ["call_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_mpesa_api_calls_call_id"), table_name="mpesa_api_calls")
    op.drop_column("mpesa_api_calls", "call_id")
