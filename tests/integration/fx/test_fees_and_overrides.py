"""Fee rules (seeded defaults, versions, effective dates, tier and merchant overrides) and
maker-checker manual rates, audited."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.auth.models import StaffUser
from core.clock import FixedClock
from core.fees import service as fees
from core.fees.schedule import FeeKind
from core.fx import overrides
from core.fx import service as fx_service
from core.fx.errors import OverrideNotAllowed
from core.fx.sources import DemoRateSource
from core.money import Asset, Money

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def test_blueprint_defaults_are_seeded(session_factory):
    async with session_factory() as session:
        await fees.seed_defaults(session=session)  # PostgreSQL tests start from truncated tables
        assert await fees.seed_defaults(session=session) == 0
        schedule = await fees.resolve_schedule(session=session, asset=Asset.BTC, at=NOW)
        assert schedule.fx_margin_buy == schedule.fx_margin_sell == Decimal("0.5")
        assert schedule.withdrawal.percent == Decimal("0.5")
        assert schedule.mpesa.fixed == Decimal(30) and schedule.mpesa.percent == 0
        assert schedule.merchant.percent == Decimal("1.5")
        assert schedule.network_percent == 100
        assert len(schedule.rule_ids) == 6


async def test_versions_effective_dates_and_overrides(session_factory):
    async with session_factory() as session:
        later = NOW + timedelta(days=1)
        await fees.add_rule(session=session, kind=FeeKind.FX_MARGIN, side="buy", percent="0.75",
                            effective_from=later, created_by="staff:1")  # fmt: skip
        await fees.add_rule(session=session, kind=FeeKind.FX_MARGIN, side="buy", percent="0.25",
                            kyc_tier=3, effective_from=NOW, created_by="staff:1")  # fmt: skip
        await fees.add_rule(session=session, kind=FeeKind.WITHDRAWAL, asset="BTC", percent="1",
                            minimum=Money.from_minor(1000, Asset.BTC), effective_from=NOW,
                            created_by="staff:1")  # fmt: skip
        row = await fees.add_rule(session=session, kind=FeeKind.MERCHANT, percent="1.0", merchant_id=42,
                                  effective_from=NOW, created_by="staff:1")  # fmt: skip
        assert row.version == 1
        now_default = await fees.resolve_schedule(session=session, asset=Asset.BTC, at=NOW)
        assert now_default.fx_margin_buy == Decimal("0.5")
        assert now_default.withdrawal.minimum == Decimal("0.00001")
        assert (
            await fees.resolve_schedule(session=session, asset=Asset.BTC, at=later)
        ).fx_margin_buy == Decimal("0.75")
        tier3 = await fees.resolve_schedule(session=session, asset=Asset.BTC, at=later, kyc_tier=3)
        assert tier3.fx_margin_buy == Decimal("0.25")
        usdt = await fees.resolve_schedule(session=session, asset=Asset.USDT_ERC20, at=NOW)
        assert usdt.withdrawal.percent == Decimal("0.5")
        merchant = await fees.resolve_schedule(session=session, asset=Asset.BTC, at=NOW, merchant_id=42)
        assert merchant.merchant.percent == Decimal("1.0")
        again = await fees.add_rule(session=session, kind=FeeKind.MERCHANT, percent="1.2", merchant_id=42,
                                    effective_from=NOW + timedelta(hours=1), created_by="staff:2")  # fmt: skip
        assert again.version == 2
        with pytest.raises(ValueError):
            await fees.add_rule(session=session, kind="bogus", effective_from=NOW, created_by="x")
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
        assert actions.count("fees.rule.added") == 5


async def _staff(session, role: str, *, active: bool = True) -> int:
    member = StaffUser(email=f"{role}-{secrets.token_hex(3)}@kibeti.test", role=role, password_hash="x",
                       totp_secret="x", last_totp_step=0, active=active, failed_logins=0, created_at=NOW)  # fmt: skip
    session.add(member)
    await session.flush()
    return member.id


async def test_manual_rate_needs_two_finance_people_and_is_audited(session_factory):
    clock = FixedClock(NOW)
    async with session_factory() as session:
        await fx_service.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        support, maker, checker, third = [
            await _staff(session, r) for r in ("support", "finance", "finance", "finance")
        ]
        gone = await _staff(session, "finance", active=False)
        # ids that name nobody (or someone disabled, or not in finance) put nothing in force
        for nobody in (9998, gone, support):
            with pytest.raises(OverrideNotAllowed):
                await overrides.propose_override(session=session, base="USDT", quote="KES", rate="1",
                                                 reason="feed glitch", maker_id=nobody, clock=clock)  # fmt: skip
        proposal = await overrides.propose_override(
            session=session, base="usdt", quote="kes", rate="131.25", reason="feed glitch", maker_id=maker,
            clock=clock, valid_for=timedelta(minutes=30),
        )  # fmt: skip
        current = await fx_service.latest_rate(session=session, base="USDT", quote="KES", clock=clock)
        assert current.ask == Decimal("129.5")  # not in force until approved
        with pytest.raises(OverrideNotAllowed, match="different person"):
            await overrides.approve_override(session=session, override_id=proposal.id, checker_id=maker,
                                             clock=clock)  # fmt: skip
        for nobody in (9999, gone, support):
            with pytest.raises(OverrideNotAllowed):
                await overrides.approve_override(session=session, override_id=proposal.id, checker_id=nobody,
                                                 clock=clock)  # fmt: skip
        await overrides.approve_override(session=session, override_id=proposal.id, checker_id=checker,
                                         clock=clock)  # fmt: skip
        with pytest.raises(OverrideNotAllowed, match="already approved"):
            await overrides.approve_override(session=session, override_id=proposal.id, checker_id=third,
                                             clock=clock)  # fmt: skip
        clock.advance(minutes=10)  # fetched rates are stale by now; the override is not
        rate = await fx_service.latest_rate(session=session, base="USDT", quote="KES", clock=clock)
        assert rate.ask == Decimal("131.25") and rate.source == f"override:{proposal.id}"
        clock.advance(minutes=21)
        with pytest.raises(Exception, match="stale"):
            await fx_service.latest_rate(session=session, base="USDT", quote="KES", clock=clock)
        actions = (
            await session.execute(select(AuditEntry.action).where(AuditEntry.action.startswith("fx.")).order_by(AuditEntry.seq))
        ).scalars().all()  # fmt: skip
        assert actions == ["fx.override.proposed", "fx.override.approved"]
