"""deposit addresses: a partial index of the address pool (network, id) where owner_type = 'pool', so
an invoice's claim reads the oldest pooled address directly instead of walking the given ones

Revision ID: wallets_0004
Revises: wallets_0003
Create Date: 2026-12-05 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "wallets_0004"
down_revision: str | Sequence[str] | None = "wallets_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POOL = sa.text("owner_type = 'pool'")


def upgrade() -> None:
    op.create_index(
        "ix_deposit_addresses_pool",
        "deposit_addresses",
        ["network", "id"],
        postgresql_where=POOL,
        sqlite_where=POOL,
    )


def downgrade() -> None:
    op.drop_index("ix_deposit_addresses_pool", table_name="deposit_addresses")
