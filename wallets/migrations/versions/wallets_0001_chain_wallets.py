"""chain wallets: deposit addresses, index counters, cursors, deposits, withdrawals

Revision ID: wallets_0001
Revises:
Create Date: 2026-11-26 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "wallets_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("wallets",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "wallet_address_counters",
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("network", name=op.f("pk_wallet_address_counters")),
    )
    op.create_table(
        "deposit_addresses",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("derivation_index", sa.Integer(), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_addresses")),
        sa.UniqueConstraint(
            "network", "chain", "derivation_index", name=op.f("uq_deposit_addresses_network_chain_derivation_index")
        ),
        sa.UniqueConstraint("network", "address", name=op.f("uq_deposit_addresses_network_address")),
        sa.UniqueConstraint(
            "owner_type", "owner_id", "network", name=op.f("uq_deposit_addresses_owner_type_owner_id_network")
        ),
    )
    op.create_table(
        "chain_cursors",
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("network", name=op.f("pk_chain_cursors")),
    )
    op.create_table(
        "chain_blocks",
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("height", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("block_hash", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("network", "height", name=op.f("pk_chain_blocks")),
    )
    op.create_table(
        "chain_deposits",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("txid", sa.String(length=80), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_height", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=80), nullable=False),
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("raw_amount", sa.String(length=80), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("deposit_address_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("spent_by", sa.String(length=80), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_deposits")),
        sa.UniqueConstraint("network", "txid", "log_index", name=op.f("uq_chain_deposits_network_txid_log_index")),
    )
    op.create_index(op.f("ix_chain_deposits_network"), "chain_deposits", ["network"], unique=False)
    op.create_index(op.f("ix_chain_deposits_status"), "chain_deposits", ["status"], unique=False)
    op.create_table(
        "chain_withdrawals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_key", sa.String(length=128), nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("owner_type", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("network_fee_native", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_id", sa.String(length=64), nullable=False),
        sa.Column("txid", sa.String(length=80), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=False),
        sa.Column("gas_price_wei", sa.String(length=80), nullable=False),
        sa.Column("replaced_txids", sa.Text(), nullable=False),
        sa.Column("block_height", sa.BigInteger(), nullable=True),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_withdrawals")),
        sa.UniqueConstraint("request_key", name=op.f("uq_chain_withdrawals_request_key")),
    )
    op.create_index(op.f("ix_chain_withdrawals_status"), "chain_withdrawals", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_chain_withdrawals_status"), table_name="chain_withdrawals")
    op.drop_table("chain_withdrawals")
    op.drop_index(op.f("ix_chain_deposits_status"), table_name="chain_deposits")
    op.drop_index(op.f("ix_chain_deposits_network"), table_name="chain_deposits")
    op.drop_table("chain_deposits")
    op.drop_table("chain_blocks")
    op.drop_table("chain_cursors")
    op.drop_table("deposit_addresses")
    op.drop_table("wallet_address_counters")
