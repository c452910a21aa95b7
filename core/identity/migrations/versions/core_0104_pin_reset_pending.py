"""customers.pin_reset_pending: staff reset the PIN (an SMS code was sent); the next dial must set a
new PIN from that code before anything else, and the old PIN no longer works

Revision ID: core_0104_pin_reset_pending
Revises: core_0103_national_id_unique
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0104_pin_reset_pending"
down_revision: str | Sequence[str] | None = "core_0103_national_id_unique"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("pin_reset_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("customers", "pin_reset_pending")
