"""sms_sent, sms_inbound, sms_preferences, sms_retry_rules (with the default retry policy)

Revision ID: messaging_0001
Revises:
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "messaging_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("messaging",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

# A handset that was off or out of coverage gets the receipt later; a number that is not a subscriber
# or blacklisted never will; our own AT credit running out is fixed by a top-up, then resent.
DEFAULT_RULES = [
    {"failure_reason": "*", "max_attempts": 1, "delay_seconds": 0},
    {"failure_reason": "DeliveryFailure", "max_attempts": 3, "delay_seconds": 600},
    {"failure_reason": "UserIsInactive", "max_attempts": 3, "delay_seconds": 3600},
    {"failure_reason": "InsufficientCredit", "max_attempts": 4, "delay_seconds": 900},
]


def upgrade() -> None:
    op.create_table(
        "sms_sent",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("failure_reason", sa.String(40), nullable=True),
        sa.Column("network_code", sa.String(10), nullable=True),
        sa.Column("sent_at", When, nullable=False),
        sa.Column("status_at", When, nullable=False),
        sa.Column("retry_due_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_sent")),
        sa.UniqueConstraint("reference", name=op.f("uq_sms_sent_reference")),
        sa.UniqueConstraint("message_id", name=op.f("uq_sms_sent_message_id")),
    )
    op.create_index(op.f("ix_sms_sent_retry_due_at"), "sms_sent", ["retry_due_at"])
    op.create_table(
        "sms_inbound",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at_id", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("command", sa.String(20), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound")),
        sa.UniqueConstraint("at_id", name=op.f("uq_sms_inbound_at_id")),
    )
    op.create_table(
        "sms_preferences",
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("marketing_opt_out", sa.Boolean(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_preferences")),
    )
    rules = op.create_table(
        "sms_retry_rules",
        sa.Column("failure_reason", sa.String(40), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("failure_reason", name=op.f("pk_sms_retry_rules")),
    )
    op.bulk_insert(rules, DEFAULT_RULES)


def downgrade() -> None:
    op.drop_table("sms_retry_rules")
    op.drop_table("sms_preferences")
    op.drop_table("sms_inbound")
    op.drop_index(op.f("ix_sms_sent_retry_due_at"), table_name="sms_sent")
    op.drop_table("sms_sent")
