"""B2B payouts name their receiver: a till (BusinessBuyGoods) or a paybill with an account reference

Revision ID: payments_0004
Revises: payments_0003
Create Date: 2026-12-05 09:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0004"
down_revision: str | Sequence[str] | None = "payments_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("payouts", sa.Column("receiver_kind", sa.String(length=8), nullable=False, server_default=""))
    op.add_column(
        "payouts", sa.Column("account_reference", sa.String(length=20), nullable=False, server_default="")
    )


def downgrade() -> None:
    op.drop_column("payouts", "account_reference")
    op.drop_column("payouts", "receiver_kind")
