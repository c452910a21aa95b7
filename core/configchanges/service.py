"""Propose, approve and reject configuration changes (maker-checker). Keyword-only; the caller
commits. A fee rule change becomes a new fee rule version (core.fees.service.add_rule) from its
effective time when a different staff member approves it; nothing changes before that.

A monitoring threshold (one parameter of a compliance rule) is versioned here: the approved changes
are the versions, and `monitoring_params_in_force` is what compliance's rule engine lays over the
rule's stored parameters at a given time (core cannot write compliance's table; compliance reads us)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.clock import Clock
from core.configchanges.errors import ChangeNotFound, ChangeNotPending, InvalidChange, SameMakerChecker
from core.configchanges.models import ChangeKind, ChangeStatus, ConfigChange
from core.fees import service as fees
from core.fees.models import ANY, FeeRuleRow
from core.fees.schedule import FeeKind
from core.money import Asset, Money

SIDES = (ANY, "buy", "sell")
FEE_FIELDS = ("percent", "currency", "fixed", "minimum", "maximum")


@dataclass(frozen=True)
class FeeRuleProposal:
    """A fee rule as a person typed it: decimal text, never floats."""

    kind: str
    asset: str = ANY
    side: str = ANY
    percent: str = "0"
    currency: str = "KES"  # the asset of fixed, minimum and maximum
    fixed: str = ""
    minimum: str = ""
    maximum: str = ""


def _decimal(text: str, name: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation as exc:
        raise InvalidChange(f"{name}: {text!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise InvalidChange(f"{name} must be zero or more")
    return value


def _checked(proposal: FeeRuleProposal) -> dict[str, Any]:
    if proposal.kind not in FeeKind.ALL:
        raise InvalidChange(f"unknown fee kind {proposal.kind!r}")
    assets = {a.value for a in Asset} | {a.currency for a in Asset}
    if proposal.asset != ANY and proposal.asset not in assets:
        raise InvalidChange(f"unknown asset {proposal.asset!r}")
    if proposal.side not in SIDES or (proposal.side != ANY and proposal.kind != FeeKind.FX_MARGIN):
        raise InvalidChange("a side (buy or sell) applies to the FX margin only")
    percent = _decimal(proposal.percent, "percent") or Decimal(0)
    if percent >= 100:
        raise InvalidChange("a fee percentage is below 100")
    try:
        currency = Asset(proposal.currency)
    except ValueError as exc:
        raise InvalidChange(f"unknown currency {proposal.currency!r}") from exc
    amounts: dict[str, str] = {}
    for name in ("fixed", "minimum", "maximum"):
        value = _decimal(getattr(proposal, name), name)
        if value is not None:
            if value != Money.of(value, currency).amount:
                raise InvalidChange(f"{name} has more decimals than {currency.value} allows")
            amounts[name] = str(value)
    low, high = amounts.get("minimum"), amounts.get("maximum")
    if low is not None and high is not None and Decimal(low) > Decimal(high):
        raise InvalidChange("the minimum is above the maximum")
    return {"kind": proposal.kind, "asset": proposal.asset, "side": proposal.side, "percent": str(percent),
            "currency": currency.value if amounts else "", **amounts}  # fmt: skip


def _as_payload(row: FeeRuleRow | None) -> dict[str, Any]:
    if row is None:
        return {}
    found: dict[str, Any] = {"kind": row.kind, "asset": row.asset, "side": row.side, "percent": row.percent,
                             "currency": row.currency, "version": row.version}  # fmt: skip
    for name, minor in (("fixed", row.fixed_minor), ("minimum", row.min_minor), ("maximum", row.max_minor)):
        if minor and row.currency:
            found[name] = str(Money.from_minor(minor, Asset(row.currency)).amount)
    return found


async def _in_force(session: AsyncSession, payload: dict[str, Any], at: datetime) -> FeeRuleRow | None:
    """The rule of exactly this scope (all tiers and merchants) in force at `at`."""
    rows = await fees.rules_in_force(session=session, at=at)
    same = [
        r for r in rows
        if (r.kind, r.asset, r.side) == (payload["kind"], payload["asset"], payload["side"])
        and r.kyc_tier is None and r.merchant_id is None
    ]  # fmt: skip
    return max(same, key=lambda r: (r.effective_from, r.version), default=None)


async def propose_fee_rule(
    *,
    session: AsyncSession,
    proposal: FeeRuleProposal,
    effective_from: datetime | None,
    reason: str,
    maker_id: int,
    clock: Clock,
) -> ConfigChange:
    now = clock.now()
    if not reason.strip():
        raise InvalidChange("say why the change is needed")
    payload = _checked(proposal)
    when = effective_from or now
    if when.tzinfo is None:
        raise InvalidChange("the effective time needs a time zone")
    change = ConfigChange(
        kind=ChangeKind.FEE_RULE.value,
        payload=payload,
        previous=_as_payload(await _in_force(session, payload, now)),
        reason=reason.strip()[:300],
        status=ChangeStatus.PENDING.value,
        maker_id=maker_id,
        effective_from=max(when, now),
        applied_ref="",
        created_at=now,
    )
    session.add(change)
    await session.flush()
    await audit.record(
        session=session, actor=f"staff:{maker_id}", action="config.change_proposed",
        subject=f"config_change:{change.id}", details={"kind": change.kind, **payload,
        "effective_from": change.effective_from.isoformat()}, clock=clock,
    )  # fmt: skip
    return change


async def _pending(session: AsyncSession, change_id: int) -> ConfigChange:
    statement = select(ConfigChange).where(ConfigChange.id == change_id).with_for_update()
    change = (await session.execute(statement)).scalar_one_or_none()
    if change is None:
        raise ChangeNotFound(f"no configuration change {change_id}")
    if change.status != ChangeStatus.PENDING.value:
        raise ChangeNotPending(f"change {change_id} is {change.status}, not pending")
    return change


async def approve(*, session: AsyncSession, change_id: int, checker_id: int, clock: Clock) -> ConfigChange:
    """A different staff member puts the change in force (as a new version, from its time)."""
    change = await _pending(session, change_id)
    if checker_id == change.maker_id:
        raise SameMakerChecker("a change is approved by someone other than the person who proposed it")
    now = clock.now()
    if change.kind == ChangeKind.MONITORING_THRESHOLD.value:
        change.applied_ref = await _approve_threshold(session, change)
        change.effective_from = max(change.effective_from, now)
        return await _approved(session, change, checker_id, now, clock)
    payload = change.payload
    currency = Asset(payload["currency"]) if payload.get("currency") else None

    def money(name: str) -> Money | None:
        return Money.of(Decimal(payload[name]), currency) if currency and name in payload else None

    row = await fees.add_rule(
        session=session, kind=payload["kind"], effective_from=max(change.effective_from, now),
        created_by=f"staff:{checker_id}", percent=payload["percent"], asset=payload["asset"],
        side=payload["side"], fixed=money("fixed"), minimum=money("minimum"), maximum=money("maximum"),
    )  # fmt: skip
    change.applied_ref = f"fee_rule:{row.id}:v{row.version}"
    return await _approved(session, change, checker_id, now, clock)


async def _approved(
    session: AsyncSession, change: ConfigChange, checker_id: int, now: datetime, clock: Clock
) -> ConfigChange:
    change.status, change.checker_id, change.decided_at = ChangeStatus.APPROVED.value, checker_id, now
    await session.flush()
    await audit.record(
        session=session, actor=f"staff:{checker_id}", action="config.change_approved",
        subject=f"config_change:{change.id}", clock=clock,
        details={"maker": change.maker_id, "applied": change.applied_ref},
    )  # fmt: skip
    return change


async def reject(*, session: AsyncSession, change_id: int, checker_id: int, clock: Clock) -> ConfigChange:
    change = await _pending(session, change_id)
    change.status, change.checker_id, change.decided_at = ChangeStatus.REJECTED.value, checker_id, clock.now()
    await session.flush()
    await audit.record(
        session=session, actor=f"staff:{checker_id}", action="config.change_rejected",
        subject=f"config_change:{change.id}", details={"maker": change.maker_id}, clock=clock,
    )  # fmt: skip
    return change


def diff(change: ConfigChange) -> list[tuple[str, str, str]]:
    """(field, in force when proposed, proposed) for every field that differs."""
    if change.kind == ChangeKind.MONITORING_THRESHOLD.value:
        name = f"{change.payload['rule']}.{change.payload['param']}"
        return [(name, str(change.previous.get("value", "")), str(change.payload["value"]))]
    rows = []
    for name in FEE_FIELDS:
        old, new = str(change.previous.get(name, "")), str(change.payload.get(name, ""))
        if old != new:
            rows.append((name, old, new))
    return rows


# The numeric parameters of compliance's monitoring rules (compliance/defaults.py) staff may change.
# *_kes values are typed in shillings and stored in minor units, as the rules read them.
MONITORING_PARAMS = frozenset(
    {"threshold_kes", "count_24h", "volume_multiple", "min_history", "window_hours", "ratio", "cycles_7d",
     "counterparties_7d", "account_age_days", "dormant_days", "window_days", "lookback_days"}
)  # fmt: skip


def _threshold_value(param: str, text: str) -> int | str:
    value = _decimal(text, param)
    if value is None:
        raise InvalidChange(f"{param} needs a value")
    if param == "ratio":
        if value > 1:
            raise InvalidChange("a ratio is between 0 and 1")
        return str(value)
    if param.endswith("_kes"):
        return Money.of(value, Asset.KES).minor
    if value != value.to_integral_value() or value > 100_000:
        raise InvalidChange(f"{param} is a whole number")
    return int(value)


async def propose_monitoring_threshold(
    *,
    session: AsyncSession,
    rule: str,
    param: str,
    value: str,
    in_force: dict[str, Any] | None,
    effective_from: datetime | None,
    reason: str,
    maker_id: int,
    clock: Clock,
) -> ConfigChange:
    """`in_force`: the rule's parameters as the rule engine uses them now (the caller reads them from
    compliance); None when there is no such rule."""
    now = clock.now()
    if not reason.strip():
        raise InvalidChange("say why the change is needed")
    if in_force is None:
        raise InvalidChange(f"unknown monitoring rule {rule!r}")
    if param not in MONITORING_PARAMS or param not in in_force:
        raise InvalidChange(f"rule {rule} has no parameter {param!r}")
    when = effective_from or now
    if when.tzinfo is None:
        raise InvalidChange("the effective time needs a time zone")
    payload = {"rule": rule, "param": param, "value": _threshold_value(param, value)}
    change = ConfigChange(
        kind=ChangeKind.MONITORING_THRESHOLD.value, payload=payload,
        previous={"rule": rule, "param": param, "value": in_force[param]}, reason=reason.strip()[:300],
        status=ChangeStatus.PENDING.value, maker_id=maker_id, effective_from=max(when, now), applied_ref="",
        created_at=now,
    )  # fmt: skip
    session.add(change)
    await session.flush()
    await audit.record(
        session=session, actor=f"staff:{maker_id}", action="config.change_proposed",
        subject=f"config_change:{change.id}", clock=clock,
        details={"kind": change.kind, **payload, "effective_from": change.effective_from.isoformat()},
    )  # fmt: skip
    return change


async def _approve_threshold(session: AsyncSession, change: ConfigChange) -> str:
    """The approved change is the new version; it is read from its effective time."""
    earlier = await session.scalar(
        select(func.count()).select_from(ConfigChange).where(
            ConfigChange.kind == ChangeKind.MONITORING_THRESHOLD.value,
            ConfigChange.status == ChangeStatus.APPROVED.value,
        )
    )  # fmt: skip
    payload = change.payload
    return f"monitoring:{payload['rule']}.{payload['param']}:v{int(earlier or 0) + 1}"[:64]


async def monitoring_params_in_force(*, session: AsyncSession, at: datetime) -> dict[str, dict[str, Any]]:
    """{rule: {param: value}} of the newest approved change per parameter in force at `at`."""
    statement = (
        select(ConfigChange)
        .where(
            ConfigChange.kind == ChangeKind.MONITORING_THRESHOLD.value,
            ConfigChange.status == ChangeStatus.APPROVED.value,
            ConfigChange.effective_from <= at,
        )
        .order_by(ConfigChange.effective_from, ConfigChange.id)
    )
    found: dict[str, dict[str, Any]] = {}
    for change in (await session.scalars(statement)).all():
        found.setdefault(change.payload["rule"], {})[change.payload["param"]] = change.payload["value"]
    return found
