"""chain withdrawals: the network fee charged (the quote's estimate), part of fee_minor

Revision ID: wallets_0002
Revises: wallets_0001
Create Date: 2026-12-05 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "wallets_0002"
down_revision: str | Sequence[str] | None = "wallets_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chain_withdrawals") as batch:
        batch.add_column(sa.Column("network_fee_minor", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("chain_withdrawals") as batch:
        batch.drop_column("network_fee_minor")
