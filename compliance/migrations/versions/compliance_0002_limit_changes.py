"""compliance: maker-checker limit changes

Revision ID: compliance_0002
Revises: compliance_0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "compliance_0002"
down_revision: str | Sequence[str] | None = "compliance_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_limit_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("changes_kes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_limit_changes")),
    )
    op.create_index(
        op.f("ix_compliance_limit_changes_status"), "compliance_limit_changes", ["status"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_compliance_limit_changes_status"), table_name="compliance_limit_changes")
    op.drop_table("compliance_limit_changes")
