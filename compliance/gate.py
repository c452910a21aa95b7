"""The ComplianceGate adapter (core.ports.ComplianceGate): called before every money movement.

Order: frozen account -> sanctions status of the customer -> sanctions screen of a crypto
counterparty address -> tier limits (crypto withdrawal, per transaction, day, month, balance) ->
synchronous rules (mode block/review). Every check is recorded as a Movement with its decision;
allowed and held movements count towards limits, and a monitoring job is staged for them through
the outbox in the same transaction. Days and months are Nairobi (EAT, UTC+3) calendar periods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import cases, kyc, notices, onboarding, reasons, reviews
from compliance.iprs import UnavailableIprs
from compliance.models import KycProfile, KycTier, MonitoringRule, Movement, MovementKind
from compliance.rules import ARRIVING_KINDS, MovementView, RuleConfig, RuleContext, evaluate, is_msisdn
from compliance.sanctions import store
from compliance.sanctions.screening import Outcome
from compliance.screening_service import screen_address, screen_business
from compliance.seed import ensure_defaults
from core.clock import Clock, clock_of
from core.configchanges import service as configchanges
from core.identity import queries as customers
from core.ledger import service as ledger
from core.ledger.types import OwnerType
from core.money import Asset, Money, format_money
from core.outbox import service as outbox
from core.ports import (
    CustomerLimits,
    Decision,
    GateResult,
    IdentityClaim,
    IdentityRegistry,
    MovementCheck,
)

EAT = timezone(timedelta(hours=3), "EAT")
COUNTED = (Decision.ALLOW.value, Decision.REVIEW.value)
REVERSED = "reversed"  # allowed, then undone: the payout it was for was refused and refunded
SYNC_MODES = ("block", "review")
SYNC_HISTORY = timedelta(days=35)
MONITOR_JOB = "compliance.jobs.monitor_movement"
BALANCE_KINDS = (MovementKind.DEPOSIT.value, MovementKind.RECEIVE.value)
ADDRESS_KINDS = (MovementKind.WITHDRAW.value, MovementKind.DEPOSIT.value)
MPESA_KINDS = (MovementKind.BUY.value, MovementKind.SELL.value)
# a registered identity the registry has not matched yet (or did not: staff decide)
IDENTITY_WAITING = frozenset({"pending", "mismatch", "not_found", "unavailable"})


def kes_text(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01")))


def period_starts(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(EAT)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.astimezone(UTC), day.replace(day=1).astimezone(UTC)


@dataclass
class Verdict:
    decision: Decision
    reason_code: str = ""
    details: dict[str, Any] | None = None


ALLOW = Verdict(Decision.ALLOW)


@dataclass
class ComplianceGateService:
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    fail_closed_without_list: bool = True
    verifier: IdentityRegistry = field(default_factory=UnavailableIprs)
    _seeded: bool = False

    async def check(self, movement: MovementCheck, *, session: Any = None) -> GateResult:
        if session is not None:  # the caller's unit of work: it commits
            return await self._check_in(session, movement)
        async with self.session_factory() as own, own.begin():
            return await self._check_in(own, movement)

    async def _check_in(self, session: AsyncSession, movement: MovementCheck) -> GateResult:
        if movement.owner_type != "customer":
            return await self._screen_only(session, movement)
        now = self.clock.now()
        profile, row = await self._open_movement(session, movement, now)
        verdict = await self._decide(session, profile, movement, row, now)
        if verdict.decision is Decision.REVIEW and await reviews.use_approval(
            session=session,
            customer_id=movement.customer_id,
            kind=movement.kind,
            amount_kes=movement.amount_kes.minor,
            counterparty=movement.counterparty,
            now=now,
        ):
            verdict = Verdict(Decision.ALLOW, reviews.APPROVED_USED)  # staff approved this request
        row.decision, row.reason_code = verdict.decision.value, verdict.reason_code
        if verdict.decision is not Decision.DENY:
            await outbox.enqueue(
                session=session,
                job=MONITOR_JOB,
                kwargs={"movement_id": row.id},
                dedupe_key=f"compliance-monitor:{row.id}",
            )
        details = {"reference": row.id, **(verdict.details or {})}
        return GateResult(verdict.decision, verdict.reason_code, details)

    async def _open_movement(
        self, session: AsyncSession, movement: MovementCheck, now: datetime
    ) -> tuple[KycProfile, Movement]:
        """The customer's KYC profile, locked (one decision at a time per customer), and the
        movement's row, recorded as under review until it is decided."""
        await self._seed_once(session, now)
        await kyc.ensure_profile(session=session, customer_id=movement.customer_id, now=now)
        locked = select(KycProfile).where(KycProfile.customer_id == movement.customer_id).with_for_update()
        profile = (await session.execute(locked)).scalar_one()
        row = Movement(
            customer_id=movement.customer_id,
            kind=movement.kind,
            asset=movement.amount.asset.value,
            amount_minor=movement.amount.minor,
            amount_kes=movement.amount_kes.minor,
            counterparty=movement.counterparty[:128],
            reference=movement.reference[:160],
            decision=Decision.REVIEW.value,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        return profile, row

    async def _screen_only(self, session: AsyncSession, movement: MovementCheck) -> GateResult:
        """Money a merchant sends back to a payer (a refund to a crypto address): the destination is
        screened; no customer's profile, tier or limits apply (the merchant is not a customer)."""
        lists = await store.active_list(session=session)
        if lists is None:
            if self.fail_closed_without_list:
                return GateResult(Decision.REVIEW, reasons.REVIEW)
            return GateResult(Decision.ALLOW)
        outcome = await screen_address(
            session=session,
            lists=lists,
            address=movement.counterparty,
            customer_id=None,
            now=self.clock.now(),
        )
        if outcome is Outcome.BLOCK:
            return GateResult(Decision.DENY, reasons.DECLINED)
        if outcome in (Outcome.ALERT, Outcome.REVIEW):
            return GateResult(Decision.REVIEW, reasons.REVIEW)
        return GateResult(Decision.ALLOW)

    async def reverse(self, *, reference: str) -> int:
        """A refused payout: its movement no longer counts against limits (nor in reports)."""
        if not reference:
            return 0
        async with self.session_factory() as session, session.begin():
            result = await session.execute(
                update(Movement)
                .where(Movement.reference == reference[:160], Movement.decision.in_(COUNTED))
                .values(decision=REVERSED, reason_code="payout_refused")
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def limits(self, customer_id: int) -> CustomerLimits:
        """The customer's tier (T0 until a profile exists) and its limits, with today's and this month's
        use counted as the gate counts it (allowed and held movements, Nairobi days and months)."""
        now = self.clock.now()
        async with self.session_factory() as session, session.begin():
            await self._seed_once(session, now)
            profile = await kyc.get_profile(session=session, customer_id=customer_id)
            tier = await kyc.get_tier(session=session, tier=profile.tier if profile is not None else 0)
            day_start, month_start = period_starts(now)
            used_today = await self._used_since(session, customer_id, day_start, exclude=None)
            used_month = await self._used_since(session, customer_id, month_start, exclude=None)
        identity_waiting = profile is not None and tier.tier == 0 and profile.iprs_status in IDENTITY_WAITING
        if profile is not None and (profile.t2_review == "pending" or identity_waiting):
            status = "pending"  # documents, or an identity being checked or waiting for staff
        else:
            status = "verified" if tier.tier >= 1 else "none"

        def kes(minor: int) -> Money:
            return Money.from_minor(minor, Asset.KES)

        return CustomerLimits(
            tier=tier.tier,
            kyc_status=status,
            per_transaction=kes(tier.per_transaction_kes),
            daily=kes(tier.daily_kes),
            monthly=kes(tier.monthly_kes),
            balance=kes(tier.max_balance_kes),
            crypto_withdrawal=kes(tier.crypto_withdrawal_kes),
            used_today=kes(used_today),
            used_this_month=kes(used_month),
            next_step=next_step(profile, tier.tier),
            frozen=bool(profile is not None and profile.frozen),
        )

    async def register_identity(self, *, session: Any, claim: IdentityClaim) -> str:
        now = self.clock.now()
        await self._seed_once(session, now)
        return await onboarding.register_identity(session=session, claim=claim, now=now)

    async def screen_business(self, *, session: Any, subject_ref: str, names: list[str]) -> str:
        lists = await store.active_list(session=session)
        if lists is None:
            return Outcome.REVIEW.value if self.fail_closed_without_list else "pending"
        outcome = await screen_business(
            session=session, lists=lists, subject_ref=subject_ref, names=names, now=self.clock.now()
        )
        return outcome.value

    async def check_inbound(
        self, *, session: Any, movement: MovementCheck, account_id: int, reference: str
    ) -> GateResult:
        now = self.clock.now()
        profile, row = await self._open_movement(session, movement, now)
        verdict = await self._decide_inbound(session, profile, movement, row, now)
        row.decision, row.reason_code = verdict.decision.value, verdict.reason_code
        await outbox.enqueue(
            session=session,
            job=MONITOR_JOB,
            kwargs={"movement_id": row.id},
            dedupe_key=f"compliance-monitor:{row.id}",
        )
        details: dict[str, Any] = {"reference": row.id, **(verdict.details or {})}
        if verdict.decision is not Decision.ALLOW:
            details["hold_id"] = await self._hold_inbound(
                session, row, movement, account_id, reference, verdict, now
            )
        return GateResult(verdict.decision, verdict.reason_code, details)

    async def _decide_inbound(
        self,
        session: AsyncSession,
        profile: KycProfile,
        movement: MovementCheck,
        row: Movement,
        now: datetime,
    ) -> Verdict:
        """Money already here is never refused outright: anything but ALLOW holds it for review.
        Frozen or listed customers get the generic review reason (no tipping off). Money with no KES
        value (no rate was ever stored) is held as unvalued: at KES 0 it would pass every limit."""
        if profile.frozen or profile.sanctions_outcome in (Outcome.BLOCK.value, Outcome.ALERT.value):
            return Verdict(Decision.REVIEW, reasons.REVIEW)
        if not movement.valued:
            return Verdict(Decision.REVIEW, reasons.INBOUND_UNVALUED)
        tier = await kyc.get_tier(session=session, tier=profile.tier)
        base = {"tier": tier.tier}
        if movement.amount_kes.minor > tier.per_transaction_kes:
            details = {**base, "limit_kes": kes_text(tier.per_transaction_kes)}
            return Verdict(Decision.REVIEW, reasons.LIMIT_TRANSACTION, details)
        if not movement.amount.asset.is_crypto:
            balance = await self._kes_balance(session, movement.customer_id)  # the credit is posted
            if balance > tier.max_balance_kes:
                details = {
                    **base,
                    "limit_kes": kes_text(tier.max_balance_kes),
                    "balance_kes": kes_text(balance),
                }
                return Verdict(Decision.REVIEW, reasons.LIMIT_BALANCE, details)
        ruled = await self._sync_rules(session, profile, movement, row, now)
        if ruled is not None:
            return Verdict(Decision.REVIEW, reasons.REVIEW)
        return ALLOW

    async def _hold_inbound(
        self,
        session: AsyncSession,
        row: Movement,
        movement: MovementCheck,
        account_id: int,
        reference: str,
        verdict: Verdict,
        now: datetime,
    ) -> int:
        """Hold the credit (double entry intact: the money is in the wallet, not spendable), raise a
        review alert and tell the customer why and what to do."""
        hold = await ledger.place_hold(
            session=session,
            idempotency_key=reviews.hold_key(row.id),
            account_id=account_id,
            amount=movement.amount,
            memo="held for compliance review",
            details={"movement_id": row.id, "reason_code": verdict.reason_code, "reference": reference},
        )
        details = verdict.details or {}
        if movement.valued:
            amount = format_money(Money.from_minor(row.amount_kes, Asset.KES))
        else:  # its KES 0 is no value: say what arrived, and why no limit was checked
            amount = (
                f"{format_money(movement.amount)} (no KES rate was ever stored: not valued, no limit checked)"
            )
        await cases.raise_alert(
            session=session,
            dedupe_key=f"inbound-held:{row.id}",
            customer_id=row.customer_id,
            source="gate",
            rule_code="inbound_held",
            score=50,
            summary=f"{row.kind} of {amount} held ({verdict.reason_code}); release or refuse it",
            details={
                "reason_code": verdict.reason_code,
                "hold_id": hold.hold_id,
                "account_id": account_id,
                "reference": reference,
                **{k: str(v) for k, v in details.items()},
            },
            movement_ids=[row.id],
            now=now,
        )
        await notices.stage(
            session=session,
            customer_id=row.customer_id,
            code="compliance.sms.inbound_held",
            reference=f"inbound-held:{row.id}",
            values={
                "amount": notices.money_value(movement.amount),
                "reason_code": verdict.reason_code,
                "details": {k: str(v) for k, v in details.items()},
            },
        )
        return hold.hold_id

    async def _seed_once(self, session: AsyncSession, now: datetime) -> None:
        if not self._seeded:
            await ensure_defaults(session=session, now=now)
            self._seeded = True

    async def _decide(
        self,
        session: AsyncSession,
        profile: KycProfile,
        movement: MovementCheck,
        row: Movement,
        now: datetime,
    ) -> Verdict:
        if profile.frozen:
            return Verdict(Decision.DENY, reasons.ACCOUNT_FROZEN)
        if profile.sanctions_outcome == Outcome.BLOCK.value:
            return Verdict(Decision.DENY, reasons.DECLINED)
        screened = await self._screen_counterparty(session, movement, now)
        if screened is not None:
            return screened
        tier = await kyc.get_tier(session=session, tier=profile.tier)
        limited = await self._limits(session, tier, movement, now)
        if limited is not None:
            return limited
        ruled = await self._sync_rules(session, profile, movement, row, now)
        if ruled is not None:
            return ruled
        if profile.sanctions_outcome == Outcome.ALERT.value:
            return Verdict(Decision.REVIEW, reasons.REVIEW)
        return ALLOW

    async def _screen_counterparty(
        self, session: AsyncSession, movement: MovementCheck, now: datetime
    ) -> Verdict | None:
        if (
            movement.kind not in ADDRESS_KINDS
            or not movement.amount.asset.is_crypto
            or not movement.counterparty
        ):
            return None
        lists = await store.active_list(session=session)
        if lists is None:
            return Verdict(Decision.REVIEW, reasons.REVIEW) if self.fail_closed_without_list else None
        outcome = await screen_address(
            session=session,
            lists=lists,
            address=movement.counterparty,
            customer_id=movement.customer_id,
            now=now,
        )
        if outcome is Outcome.BLOCK:
            return Verdict(Decision.DENY, reasons.DECLINED)
        if outcome in (Outcome.ALERT, Outcome.REVIEW):
            return Verdict(Decision.REVIEW, reasons.REVIEW)
        return None

    async def _used_since(
        self, session: AsyncSession, customer_id: int, since: datetime, exclude: int | None
    ) -> int:
        statement = select(func.coalesce(func.sum(Movement.amount_kes), 0)).where(
            Movement.customer_id == customer_id,
            Movement.created_at >= since,
            Movement.decision.in_(COUNTED),
            Movement.kind.not_in(ARRIVING_KINDS),
        )
        if exclude is not None:
            statement = statement.where(Movement.id != exclude)
        return int((await session.execute(statement)).scalar_one())

    async def _limits(
        self, session: AsyncSession, tier: KycTier, movement: MovementCheck, now: datetime
    ) -> Verdict | None:
        amount = movement.amount_kes.minor
        base = {"tier": tier.tier}
        if movement.kind == MovementKind.WITHDRAW.value and movement.amount.asset.is_crypto:
            if tier.crypto_withdrawal_kes <= 0:
                return Verdict(Decision.DENY, reasons.TIER_CRYPTO_WITHDRAWAL, base)
            if amount > tier.crypto_withdrawal_kes:
                details = {**base, "limit_kes": kes_text(tier.crypto_withdrawal_kes)}
                return Verdict(Decision.DENY, reasons.LIMIT_CRYPTO_WITHDRAWAL, details)
        if amount > tier.per_transaction_kes:
            details = {**base, "limit_kes": kes_text(tier.per_transaction_kes)}
            return Verdict(Decision.DENY, reasons.LIMIT_TRANSACTION, details)
        day_start, month_start = period_starts(now)
        for code, limit, since in (
            (reasons.LIMIT_DAILY, tier.daily_kes, day_start),
            (reasons.LIMIT_MONTHLY, tier.monthly_kes, month_start),
        ):
            used = await self._used_since(session, movement.customer_id, since, exclude=None)
            # the movement's own row is counted as REVIEW until decided: take it back out
            used -= 0 if movement.kind in ARRIVING_KINDS else amount
            if used + amount > limit:
                details = {
                    **base,
                    "limit_kes": kes_text(limit),
                    "used_kes": kes_text(used),
                    "remaining_kes": kes_text(max(0, limit - used)),
                }
                return Verdict(Decision.DENY, code, details)
        if movement.kind in BALANCE_KINDS and not movement.amount.asset.is_crypto:
            balance = await self._kes_balance(session, movement.customer_id)
            if balance + amount > tier.max_balance_kes:
                details = {
                    **base,
                    "limit_kes": kes_text(tier.max_balance_kes),
                    "balance_kes": kes_text(balance),
                }
                return Verdict(Decision.DENY, reasons.LIMIT_BALANCE, details)
        return None

    async def _kes_balance(self, session: AsyncSession, customer_id: int) -> int:
        """What the customer holds in KES now, from the ledger: available, pending holds deducted."""
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=Asset.KES
        )
        return (await ledger.available(session=session, account_id=wallet.id)).minor

    async def _sync_rules(
        self,
        session: AsyncSession,
        profile: KycProfile,
        movement: MovementCheck,
        row: Movement,
        now: datetime,
    ) -> Verdict | None:
        configs = await enabled_rules(session, SYNC_MODES, now=now)
        if not configs:
            return None
        history = await load_history(
            session, movement.customer_id, since=now - SYNC_HISTORY, before_id=row.id
        )
        context = await rule_context(session, profile, row, now)
        hits = evaluate(configs, view(row), history, context)
        if not hits:
            return None
        modes = {c.code: c.mode for c in configs}
        for hit in hits:
            await cases.alert_rule_hit(
                session=session,
                hit=hit,
                customer_id=movement.customer_id,
                movement_id=row.id,
                source="gate",
                mode=modes[hit.code],
                now=now,
            )
        if any(modes[h.code] == "block" for h in hits):
            return Verdict(Decision.DENY, reasons.DECLINED)
        return Verdict(Decision.REVIEW, reasons.REVIEW)


def next_step(profile: KycProfile | None, tier: int) -> str:
    """What raises the customer's limits next (a code channels translate as ussd.kyc.next.<code>)."""
    if tier >= 2:
        return ""
    if tier == 1:
        return "identity_review" if profile is not None and profile.t2_review == "pending" else "documents"
    if profile is not None and profile.iprs_status in IDENTITY_WAITING:
        return "identity_review"
    return "verify_id"


def view(row: Movement) -> MovementView:
    return MovementView(row.id, row.customer_id, row.kind, row.amount_kes, row.counterparty, row.created_at)


async def enabled_rules(
    session: AsyncSession, modes: tuple[str, ...], *, now: datetime | None = None
) -> list[RuleConfig]:
    """The rules with their parameters as in force at `now`: thresholds changed under maker-checker
    (core.configchanges) laid over the stored ones from their effective time."""
    statement = select(MonitoringRule).where(MonitoringRule.enabled, MonitoringRule.mode.in_(modes))
    rules = (await session.execute(statement)).scalars().all()
    changed = await configchanges.monitoring_params_in_force(
        session=session, at=now or clock_of(session).now()
    )
    return [RuleConfig(r.code, r.mode, r.score, {**r.params, **changed.get(r.code, {})}) for r in rules]


async def load_history(
    session: AsyncSession, customer_id: int, *, since: datetime, before_id: int
) -> list[MovementView]:
    statement = (
        select(Movement)
        .where(
            Movement.customer_id == customer_id,
            Movement.created_at >= since,
            Movement.id != before_id,
            Movement.decision.in_(COUNTED),
        )
        .order_by(Movement.created_at, Movement.id)
    )
    return [view(m) for m in (await session.execute(statement)).scalars()]


async def rule_context(
    session: AsyncSession, profile: KycProfile, row: Movement, now: datetime
) -> RuleContext:
    customer = await customers.customer_view(session=session, customer_id=profile.customer_id)
    opened = customer.created_at if customer is not None else profile.created_at
    others: set[int] = set()
    if row.kind in MPESA_KINDS and row.counterparty and is_msisdn(row.counterparty):
        statement = select(Movement.customer_id).where(
            Movement.counterparty == row.counterparty,
            Movement.kind.in_(MPESA_KINDS),
            Movement.customer_id != row.customer_id,
            Movement.created_at >= now - timedelta(days=365),
        )
        others |= set((await session.execute(statement.distinct())).scalars())
        others |= await customers.customer_ids_with_phone(
            session=session, phone=row.counterparty, excluding=row.customer_id
        )
    return RuleContext(account_opened_at=opened, other_customers_on_counterparty=frozenset(others))
