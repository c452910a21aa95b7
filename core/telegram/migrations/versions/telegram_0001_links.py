"""telegram_links: which Telegram user (and private chat) is which customer

Revision ID: telegram_0001
Revises:
Create Date: 2026-12-05 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "telegram_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("telegram",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "telegram_links",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_links")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_telegram_links_telegram_user_id")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_telegram_links_customer_id")),
    )


def downgrade() -> None:
    op.drop_table("telegram_links")
