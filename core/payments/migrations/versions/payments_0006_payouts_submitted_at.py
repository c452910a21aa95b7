"""payouts by submitted_at: the claim's shortcode daily value (today's sum) is an index range scan

Revision ID: payments_0006
Revises: payments_0005
Create Date: 2026-12-05 18:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "payments_0006"
down_revision: str | Sequence[str] | None = "payments_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_payouts_submitted_at"), "payouts", ["submitted_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payouts_submitted_at"), table_name="payouts")
