"""audit log keyed: key_id per row; PostgreSQL refuses TRUNCATE as it refuses UPDATE and DELETE

Revision ID: core_0102_audit_keyed
Revises: core_0101_identity
Create Date: 2026-12-05 06:30:00

Existing rows keep key_id "" (the old unkeyed SHA-256): `kibeti audit rekey`, run as the table
owner, re-seals them under the keyring's current key (verify reports them until then).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0102_audit_keyed"
down_revision: str | Sequence[str] | None = "core_0101_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_TRUNCATE_TRIGGER = """
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), server_default="", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NO_TRUNCATE_TRIGGER)
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
