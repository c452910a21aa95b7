"""fx rates, alerts, overrides; fee rules (blueprint defaults seeded); quotes

Revision ID: fx_0001
Revises:
Create Date: 2026-11-26 08:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "fx_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("fx",)
depends_on: str | Sequence[str] | None = "core_0001"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("base", sa.String(8), nullable=False),
        sa.Column("quote", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rate", sa.String(64), nullable=False),
        sa.Column("bid", sa.String(64), nullable=False),
        sa.Column("ask", sa.String(64), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
    )
    op.create_index("ix_fx_rates_pair_kind_as_of", "fx_rates", ["base", "quote", "kind", "as_of"])
    op.create_table(
        "fx_alerts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("pair", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_alerts")),
    )
    op.create_table(
        "fx_overrides",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("base", sa.String(8), nullable=False),
        sa.Column("quote", sa.String(8), nullable=False),
        sa.Column("rate", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("maker_id", sa.Integer(), nullable=False),
        sa.Column("checker_id", sa.Integer(), nullable=True),
        sa.Column("valid_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("valid_until", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_overrides")),
    )
    fee_rules = op.create_table(
        "fee_rules",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("kyc_tier", sa.Integer(), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("percent", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("fixed_minor", sa.BigInteger(), nullable=False),
        sa.Column("min_minor", sa.BigInteger(), nullable=True),
        sa.Column("max_minor", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_rules")),
    )
    op.create_index("ix_fee_rules_kind_effective_from", "fee_rules", ["kind", "effective_from"])
    op.create_table(
        "quotes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("rail", sa.String(8), nullable=False),
        sa.Column("given", sa.String(8), nullable=False),
        sa.Column("pay_asset", sa.String(16), nullable=False),
        sa.Column("pay_minor", sa.BigInteger(), nullable=False),
        sa.Column("receive_asset", sa.String(16), nullable=False),
        sa.Column("receive_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_asset", sa.String(16), nullable=False),
        sa.Column("fee_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("margin_minor", sa.BigInteger(), nullable=False),
        sa.Column("margin_percent", sa.String(32), nullable=False),
        sa.Column("ref_rate", sa.String(64), nullable=False),
        sa.Column("rate", sa.String(64), nullable=False),
        sa.Column("rate_id", sa.BigInteger(), nullable=True),
        sa.Column("rate_source", sa.String(120), nullable=False),
        sa.Column("liquidity_in_minor", sa.BigInteger(), nullable=True),
        sa.Column("liquidity_out_minor", sa.BigInteger(), nullable=True),
        sa.Column("payout_minor", sa.BigInteger(), nullable=True),
        sa.Column("change_minor", sa.BigInteger(), nullable=True),
        sa.Column("fee_rule_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("executed_at", TS, nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(160), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    _seed_blueprint_fees(fee_rules)


def _seed_blueprint_fees(table: sa.Table) -> None:
    """The blueprint's defaults: withdrawal 0.5 %, FX margin 0.5 % each side, M-Pesa KES 30 + 0 %,
    merchant 1.5 %, network fee passed on in full."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    base = {"asset": "*", "side": "*", "kyc_tier": None, "merchant_id": None, "currency": "",
            "fixed_minor": 0, "min_minor": None, "max_minor": None, "version": 1,
            "effective_from": start, "created_at": start, "created_by": "seed"}
    rows = [
        {**base, "kind": "withdrawal", "percent": "0.5"},
        {**base, "kind": "fx_margin", "side": "buy", "percent": "0.5"},
        {**base, "kind": "fx_margin", "side": "sell", "percent": "0.5"},
        {**base, "kind": "mpesa", "asset": "KES", "percent": "0", "currency": "KES", "fixed_minor": 3000},
        {**base, "kind": "merchant", "percent": "1.5"},
        {**base, "kind": "network", "percent": "100"},
    ]
    op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("quotes")
    op.drop_index("ix_fee_rules_kind_effective_from", table_name="fee_rules")
    op.drop_table("fee_rules")
    op.drop_table("fx_overrides")
    op.drop_table("fx_alerts")
    op.drop_index("ix_fx_rates_pair_kind_as_of", table_name="fx_rates")
    op.drop_table("fx_rates")
