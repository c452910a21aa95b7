"""Fee rules: resolve the schedule that applies to a quote, and add new rule versions.

Resolution, per fee kind (and side, for the FX margin): among rules in force at the moment
(`effective_from <= at`) whose scope matches, the most specific wins (merchant > KYC tier > exact
asset > any), then the newest (`effective_from`, then `version`). A kind with no rule at all falls
back to the blueprint default in core.fees.schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit_service
from core.fees.models import ANY, FeeRuleRow
from core.fees.schedule import BLUEPRINT_DEFAULTS, FeeKind, FeeRule, FeeSchedule
from core.money import Asset, Money

MARGIN_SIDES = ("buy", "sell")
SEED_FROM = datetime(2026, 1, 1, tzinfo=UTC)
# The blueprint's defaults, as the fx_0001 migration seeds them (kind, asset, side, percent, currency, fixed).
SEED_RULES = (
    (FeeKind.WITHDRAWAL, ANY, ANY, "0.5", "", 0),
    (FeeKind.FX_MARGIN, ANY, "buy", "0.5", "", 0),
    (FeeKind.FX_MARGIN, ANY, "sell", "0.5", "", 0),
    (FeeKind.MPESA, "KES", ANY, "0", "KES", 3000),
    (FeeKind.MERCHANT, ANY, ANY, "1.5", "", 0),
    (FeeKind.NETWORK, ANY, ANY, "100", "", 0),
)


def _matches(
    row: FeeRuleRow, *, assets: tuple[str, ...], side: str, tier: int | None, merchant: int | None
) -> bool:
    return (
        row.asset in (*assets, ANY)
        and row.side in (side, ANY)
        and row.kyc_tier in (None, tier)
        and row.merchant_id in (None, merchant)
    )


def _rank(row: FeeRuleRow) -> tuple[int, datetime, int]:
    specific = 4 * (row.merchant_id is not None) + 2 * (row.kyc_tier is not None) + (row.asset != ANY)
    return specific, row.effective_from, row.version


def _to_rule(row: FeeRuleRow) -> FeeRule:
    def amount(minor: int | None) -> Decimal | None:
        if minor is None:
            return None
        if not row.currency:
            return Decimal(0) if minor == 0 else None
        return Money.from_minor(minor, Asset(row.currency)).amount

    return FeeRule(
        percent=Decimal(row.percent),
        fixed=amount(row.fixed_minor) or Decimal(0),
        minimum=amount(row.min_minor),
        maximum=amount(row.max_minor),
        rule_id=row.id,
    )


async def rules_in_force(*, session: AsyncSession, at: datetime) -> list[FeeRuleRow]:
    statement = select(FeeRuleRow).where(FeeRuleRow.effective_from <= at).order_by(FeeRuleRow.id)
    return list((await session.execute(statement)).scalars())


def pick(
    rows: list[FeeRuleRow], kind: str, *, asset: Asset, side: str = ANY, kyc_tier: int | None = None,
    merchant_id: int | None = None,
) -> FeeRuleRow | None:  # fmt: skip
    assets = (asset.value, asset.currency)
    found = [
        r for r in rows
        if r.kind == kind and _matches(r, assets=assets, side=side, tier=kyc_tier, merchant=merchant_id)
    ]  # fmt: skip
    return max(found, key=_rank, default=None)


async def resolve_schedule(
    *,
    session: AsyncSession,
    asset: Asset,
    at: datetime,
    kyc_tier: int | None = None,
    merchant_id: int | None = None,
) -> FeeSchedule:
    """The fees for `asset` (the crypto side) in force at `at` for this tier and merchant."""
    rows = await rules_in_force(session=session, at=at)
    scope = {"kyc_tier": kyc_tier, "merchant_id": merchant_id}
    defaults = BLUEPRINT_DEFAULTS
    used: list[int] = []

    def rule(kind: str, on: Asset, fallback: FeeRule, side: str = ANY) -> FeeRule:
        row = pick(rows, kind, asset=on, side=side, **scope)
        if row is None:
            return fallback
        used.append(row.id)
        return _to_rule(row)

    margin_buy = rule(FeeKind.FX_MARGIN, asset, FeeRule(percent=defaults.fx_margin_buy), "buy")
    margin_sell = rule(FeeKind.FX_MARGIN, asset, FeeRule(percent=defaults.fx_margin_sell), "sell")
    network = rule(FeeKind.NETWORK, asset, FeeRule(percent=defaults.network_percent))
    return FeeSchedule(
        fx_margin_buy=margin_buy.percent,
        fx_margin_sell=margin_sell.percent,
        withdrawal=rule(FeeKind.WITHDRAWAL, asset, defaults.withdrawal),
        mpesa=rule(FeeKind.MPESA, Asset.KES, defaults.mpesa),
        merchant=rule(FeeKind.MERCHANT, Asset.KES, defaults.merchant),
        pesapal=rule(FeeKind.PESAPAL, Asset.KES, defaults.pesapal),
        network_percent=network.percent,
        rule_ids=tuple(used),
    )


async def add_rule(
    *,
    session: AsyncSession,
    kind: str,
    effective_from: datetime,
    created_by: str,
    percent: Decimal | str = "0",
    asset: str = ANY,
    side: str = ANY,
    kyc_tier: int | None = None,
    merchant_id: int | None = None,
    fixed: Money | None = None,
    minimum: Money | None = None,
    maximum: Money | None = None,
) -> FeeRuleRow:
    """Add a new version of the rule for this scope (rows are never edited), and audit it."""
    if kind not in FeeKind.ALL:
        raise ValueError(f"unknown fee kind {kind!r}; use one of {', '.join(FeeKind.ALL)}")
    value = Decimal(percent)
    if not value.is_finite() or value < 0 or value >= 100:
        raise ValueError("a fee percentage is between 0 and 100")
    amounts = [m for m in (fixed, minimum, maximum) if m is not None]
    currencies = {m.asset for m in amounts}
    if len(currencies) > 1:
        raise ValueError("fixed amount and caps must be in one asset")
    if any(m.amount < 0 for m in amounts):
        raise ValueError("fee amounts cannot be negative")
    scope = {"kind": kind, "asset": asset, "side": side, "kyc_tier": kyc_tier, "merchant_id": merchant_id}
    current = (await session.execute(select(func.max(FeeRuleRow.version)).filter_by(**scope))).scalar()
    row = FeeRuleRow(
        **scope,
        percent=str(value),
        currency=currencies.pop().value if currencies else "",
        fixed_minor=fixed.minor if fixed else 0,
        min_minor=minimum.minor if minimum else None,
        max_minor=maximum.minor if maximum else None,
        version=(current or 0) + 1,
        effective_from=effective_from,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    await audit_service.record(
        session=session, actor=created_by, action="fees.rule.added", subject=f"fee_rule:{row.id}",
        details={**scope, "percent": row.percent, "currency": row.currency, "fixed_minor": row.fixed_minor,
                 "min_minor": row.min_minor, "max_minor": row.max_minor, "version": row.version,
                 "effective_from": effective_from.isoformat()},
    )  # fmt: skip
    return row


async def seed_defaults(*, session: AsyncSession) -> int:
    """Insert the blueprint defaults if there are no fee rules at all (the migration seeds them too)."""
    if (await session.execute(select(func.count()).select_from(FeeRuleRow))).scalar_one():
        return 0
    for kind, asset, side, percent, currency, fixed in SEED_RULES:
        session.add(
            FeeRuleRow(
                kind=kind,
                asset=asset,
                side=side,
                percent=percent,
                currency=currency,
                fixed_minor=fixed,
                version=1,
                effective_from=SEED_FROM,
                created_at=SEED_FROM,
                created_by="seed",
            )
        )
    await session.flush()
    return len(SEED_RULES)
