"""payouts by submitted_at: the claim's shortcode daily value (today's sum) is an index range scan

Built CONCURRENTLY on PostgreSQL (outside a transaction), so migrating with workers up never blocks
their writes to payouts while it builds; SQLite as before.

Revision ID: payments_0006
Revises: payments_0005
Create Date: 2026-12-05 18:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payments_0006"
down_revision: str | Sequence[str] | None = "payments_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_payouts_submitted_at"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        op.create_index(op.f(INDEX), "payouts", ["submitted_at"])
        return
    with op.get_context().autocommit_block():  # commits the migrations before it: CONCURRENTLY needs it
        _drop_if_invalid(INDEX)
        op.create_index(
            op.f(INDEX), "payouts", ["submitted_at"], postgresql_concurrently=True, if_not_exists=True
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        op.drop_index(op.f(INDEX), table_name="payouts")
        return
    with op.get_context().autocommit_block():
        op.drop_index(op.f(INDEX), table_name="payouts", postgresql_concurrently=True, if_exists=True)


def _drop_if_invalid(name: str) -> None:
    """A concurrent build that failed (or was interrupted) leaves an invalid index of that name, which
    IF NOT EXISTS would keep: dropped, to be built again."""
    query = sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)")
    if op.get_bind().execute(query, {"name": name}).scalar():
        op.drop_index(name, table_name="payouts", postgresql_concurrently=True, if_exists=True)
