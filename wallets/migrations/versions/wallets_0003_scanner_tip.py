"""chain cursors: the node's tip as last seen by the scanner (for its lag in blocks)

Revision ID: wallets_0003
Revises: wallets_0002
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "wallets_0003"
down_revision: str | Sequence[str] | None = "wallets_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chain_cursors") as batch:
        batch.add_column(sa.Column("tip_height", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chain_cursors") as batch:
        batch.drop_column("tip_height")
