"""audit log: index on (subject, seq) for the staff portal's object filter

Revision ID: core_0105_audit_subject_index
Revises: core_0104_pin_reset_pending
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "core_0105_audit_subject_index"
down_revision: str | Sequence[str] | None = "core_0104_pin_reset_pending"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_subject_seq", "audit_log", ["subject", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_subject_seq", table_name="audit_log")
