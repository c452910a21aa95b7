"""payouts.unknown_since: when a payout entered `unknown` (the stuck-unknown metric, the desks' age
and the 30-minute staff alert measure from it; updated_at moves on every status query)

Set when a payout enters unknown, cleared when it leaves; existing unknown payouts take their
updated_at (the best we know).

Revision ID: payments_0007
Revises: payments_0006
Create Date: 2026-12-05 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0007"
down_revision: str | Sequence[str] | None = "payments_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payouts", sa.Column("unknown_since", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE payouts SET unknown_since = updated_at WHERE status = 'unknown'")


def downgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("unknown_since")
