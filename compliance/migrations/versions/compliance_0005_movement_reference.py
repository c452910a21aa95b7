"""compliance movements: the reference of the money movement (a payout's key), so a payout that
M-Pesa refused stops counting against the customer's limits

Revision ID: compliance_0005
Revises: compliance_0004
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "compliance_0005"
down_revision: str | Sequence[str] | None = "compliance_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("compliance_movements") as batch:
        batch.add_column(sa.Column("reference", sa.String(160), nullable=False, server_default=""))
        batch.create_index("ix_compliance_movements_reference", ["reference"])


def downgrade() -> None:
    with op.batch_alter_table("compliance_movements") as batch:
        batch.drop_index("ix_compliance_movements_reference")
        batch.drop_column("reference")
