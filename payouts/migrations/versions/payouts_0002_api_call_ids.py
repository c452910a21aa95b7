"""mpesa api-call audit rows keyed by the call: a retried write adds nothing (ON CONFLICT DO NOTHING)

The unique index is built CONCURRENTLY on PostgreSQL (outside a transaction), so migrating with
workers up never blocks their audit rows while it builds; SQLite as before.

Revision ID: payouts_0002
Revises: payouts_0001
Create Date: 2026-12-05 18:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "payouts_0002"
down_revision: str | Sequence[str] | None = "payouts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_mpesa_api_calls_call_id"


def upgrade() -> None:
    # NULL for the rows written before: a unique index allows any number of them
    if op.get_context().dialect.name != "postgresql":
        op.add_column("mpesa_api_calls", sa.Column("call_id", sa.String(length=32), nullable=True))
        op.create_index(op.f(INDEX), "mpesa_api_calls", ["call_id"], unique=True)
        return
    # IF NOT EXISTS: the autocommit block below commits the column before the index is built, and
    # alembic_version moves only once the build is done; a build that failed or was cancelled leaves
    # the column, and the upgrade run again must go on from there
    op.execute("ALTER TABLE mpesa_api_calls ADD COLUMN IF NOT EXISTS call_id VARCHAR(32)")
    with op.get_context().autocommit_block():  # commits the column first: CONCURRENTLY needs it
        _drop_if_invalid(INDEX)
        op.create_index(
            op.f(INDEX), "mpesa_api_calls", ["call_id"], unique=True, postgresql_concurrently=True,
            if_not_exists=True,
        )  # fmt: skip


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(
                op.f(INDEX), table_name="mpesa_api_calls", postgresql_concurrently=True, if_exists=True
            )
    else:
        op.drop_index(op.f(INDEX), table_name="mpesa_api_calls")
    op.drop_column("mpesa_api_calls", "call_id")


def _drop_if_invalid(name: str) -> None:
    """A concurrent build that failed (or was interrupted) leaves an invalid index of that name, which
    IF NOT EXISTS would keep: dropped, to be built again."""
    query = sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)")
    if op.get_bind().execute(query, {"name": name}).scalar():
        op.drop_index(name, table_name="mpesa_api_calls", postgresql_concurrently=True, if_exists=True)
