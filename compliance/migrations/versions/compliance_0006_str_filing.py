"""compliance reports: the FRC's reference for a filed STR (with submitted_at, the filing date staff
record); building the XML only drafts it

Revision ID: compliance_0006
Revises: compliance_0005
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "compliance_0006"
down_revision: str | Sequence[str] | None = "compliance_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("compliance_reports") as batch:
        batch.add_column(sa.Column("frc_reference", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("compliance_reports") as batch:
        batch.drop_column("frc_reference")
