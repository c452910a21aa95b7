from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from compliance import kyc, reasons
from compliance.gate import ComplianceGateService
from compliance.models import Alert, Case, Movement
from compliance.sanctions import store
from compliance.sanctions.loader import SanctionsList
from core.clock import FixedClock
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.ports import Decision, MovementCheck
from tests.integration.compliance.helpers import SANCTIONED_BTC, kes, rule_alert

SANCTIONED_USDT_TRC20 = "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"


def send(
    customer: int, amount: str, kind: str = "send", counterparty: str = "+254700000001"
) -> MovementCheck:
    return MovementCheck(customer, kind, kes(amount), kes(amount), counterparty)


async def set_tier(factory, customer_id: int, tier: int, clock: FixedClock) -> None:
    async with factory() as session, session.begin():
        profile = await kyc.ensure_profile(session=session, customer_id=customer_id, now=clock.now())
        profile.tier = tier


async def test_t0_stopped_at_daily_limit_with_english_and_swahili_reason(factory, clock) -> None:
    gate = ComplianceGateService(factory, clock)
    assert (await gate.check(send(1, "4000"))).allowed
    assert (await gate.check(send(1, "4000"))).allowed
    result = await gate.check(send(1, "4000"))  # T0 daily limit is KES 10,000
    assert result.decision is Decision.DENY
    assert result.reason_code == reasons.LIMIT_DAILY
    assert result.details["remaining_kes"] == "2000.00"
    assert reasons.message(result.reason_code, "en", result.details) == (
        "This would pass your daily limit of KES 10,000.00. You can still use KES 2,000.00 today."
    )
    assert reasons.message(result.reason_code, "sw", result.details) == (
        "Hii itazidi kikomo chako cha siku cha KES 10,000.00. Bado unaweza kutumia KES 2,000.00 leo."
    )
    assert (await gate.check(send(1, "2000"))).allowed  # exactly up to the limit
    clock.advance(hours=13)  # past midnight in Nairobi: a new day
    assert (await gate.check(send(1, "4000"))).allowed


async def test_per_transaction_and_monthly_limits(factory, clock) -> None:
    gate = ComplianceGateService(factory, clock)
    over = await gate.check(send(2, "5000.01"))
    assert (over.decision, over.reason_code) == (Decision.DENY, reasons.LIMIT_TRANSACTION)
    assert reasons.message(over.reason_code, "sw", over.details).startswith("Kiasi hiki kinazidi")
    for _day in range(5):
        assert (await gate.check(send(2, "5000"))).allowed
        assert (await gate.check(send(2, "5000"))).allowed
        clock.advance(days=1)
    monthly = await gate.check(send(2, "100"))  # T0 monthly is KES 50,000
    assert monthly.reason_code == reasons.LIMIT_MONTHLY


async def test_denied_movements_do_not_use_up_limits(factory, clock) -> None:
    gate = ComplianceGateService(factory, clock)
    for _ in range(3):
        assert (await gate.check(send(3, "6000"))).reason_code == reasons.LIMIT_TRANSACTION
    assert (await gate.check(send(3, "5000"))).allowed


async def test_t0_cannot_withdraw_crypto_and_t1_is_capped(factory, clock) -> None:
    gate = ComplianceGateService(factory, clock)
    btc = MovementCheck(
        4, "withdraw", Money.of("0.001", Asset.BTC), kes("1300"), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    )
    async with factory() as session, session.begin():
        await store.save_version(session=session, lists=SanctionsList.from_entities([]), loaded_by="test")
    result = await gate.check(btc)
    assert result.reason_code == reasons.TIER_CRYPTO_WITHDRAWAL
    await set_tier(factory, 4, 1, clock)
    assert (await gate.check(btc)).allowed
    big = MovementCheck(
        4, "withdraw", Money.of("0.2", Asset.BTC), kes("200000"), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    )
    capped = await gate.check(big)
    assert capped.reason_code == reasons.LIMIT_CRYPTO_WITHDRAWAL
    assert "130,000.00" in reasons.message(capped.reason_code, "en", capped.details)


async def test_withdrawal_to_sanctioned_address_is_blocked_and_opens_a_case(
    factory, clock, crypto_lists: SanctionsList
) -> None:
    async with factory() as session, session.begin():
        await store.save_version(session=session, lists=crypto_lists, loaded_by="test")
    await set_tier(factory, 5, 1, clock)
    gate = ComplianceGateService(factory, clock)
    for asset, address in ((Asset.BTC, SANCTIONED_BTC), (Asset.USDT_TRC20, SANCTIONED_USDT_TRC20)):
        amount = Money.of("0.001", asset) if asset is Asset.BTC else Money.of("10", asset)
        result = await gate.check(MovementCheck(5, "withdraw", amount, kes("1300"), address))
        assert (result.decision, result.reason_code) == (Decision.DENY, reasons.DECLINED)
        # the customer-facing text never names sanctions (no tipping off)
        assert "sanction" not in reasons.message(result.reason_code, "en").lower()
    async with factory() as session:
        opened = list((await session.execute(select(Case))).scalars())
        alerts = list((await session.execute(select(Alert))).scalars())
    assert len(opened) == 2 and all(c.priority == "high" and c.customer_id == 5 for c in opened)
    assert all(a.rule_code == "sanctions_block" and a.case_id is not None for a in alerts)


async def test_no_active_list_holds_crypto_withdrawals_for_review(factory, clock) -> None:
    await set_tier(factory, 6, 1, clock)
    gate = ComplianceGateService(factory, clock)
    result = await gate.check(
        MovementCheck(6, "withdraw", Money.of("0.001", Asset.BTC), kes("1300"), SANCTIONED_BTC)
    )
    assert (result.decision, result.reason_code) == (Decision.REVIEW, reasons.REVIEW)


async def test_frozen_account_denied(factory, clock) -> None:
    async with factory() as session, session.begin():
        await kyc.set_frozen(
            session=session,
            customer_id=7,
            frozen=True,
            reason="court order",
            actor="staff:1",
            now=clock.now(),
        )
    result = await ComplianceGateService(factory, clock).check(send(7, "10"))
    assert result.reason_code == reasons.ACCOUNT_FROZEN
    assert reasons.message(result.reason_code, "sw").startswith("Akaunti yako imesimamishwa")


async def test_one_mpesa_number_across_identities_is_blocked(factory, clock) -> None:
    gate = ComplianceGateService(factory, clock)
    number = "+254712000111"
    assert (await gate.check(send(8, "100", kind="buy", counterparty=number))).allowed
    result = await gate.check(send(9, "100", kind="buy", counterparty=number))
    assert (result.decision, result.reason_code) == (Decision.DENY, reasons.DECLINED)
    async with factory() as session:
        alert = (
            await session.execute(select(Alert).where(Alert.rule_code == "shared_mpesa_number"))
        ).scalar_one()
    assert alert.customer_id == 9 and "other customer" in alert.summary


async def test_large_movement_on_new_account_is_held_for_review(factory, clock) -> None:
    await set_tier(factory, 10, 1, clock)
    result = await ComplianceGateService(factory, clock).check(send(10, "150000"))
    assert (result.decision, result.reason_code) == (Decision.REVIEW, reasons.REVIEW)


async def test_every_check_is_recorded_and_monitoring_staged(factory, clock) -> None:
    gate = ComplianceGateService(factory, clock)
    ok = await gate.check(send(11, "100"))
    denied = await gate.check(send(11, "9000"))
    async with factory() as session:
        rows = list((await session.execute(select(Movement).order_by(Movement.id))).scalars())
        jobs = list((await session.execute(select(OutboxJob))).scalars())
    assert [(r.decision, r.reason_code) for r in rows] == [("allow", ""), ("deny", reasons.LIMIT_TRANSACTION)]
    assert [j.kwargs for j in jobs] == [{"movement_id": ok.details["reference"]}]
    assert denied.details["reference"] == rows[1].id


async def test_tier_limits_are_configurable(factory, clock) -> None:
    async with factory() as session, session.begin():
        await kyc.set_tier_limits(
            session=session,
            tier=0,
            limits_kes={"per_transaction_kes": Decimal("50")},
            actor="mlro",
            now=clock.now(),
        )
    result = await ComplianceGateService(factory, clock).check(send(12, "60"))
    assert result.reason_code == reasons.LIMIT_TRANSACTION and result.details["limit_kes"] == "50.00"


async def test_unused_alert_dedupe(factory, clock) -> None:
    async with factory() as session, session.begin():
        first = await rule_alert(session, clock.now(), dedupe_key="k", customer_id=1)
        again = await rule_alert(session, clock.now(), dedupe_key="k", customer_id=1)
    assert first.id == again.id


@pytest.mark.parametrize("amount", ["5000", "0.01"])
async def test_balance_limit_on_incoming_kes(factory, clock, amount: str) -> None:
    from core.ledger import service as ledger

    async with factory() as session, session.begin():
        account = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=13, asset=Asset.KES, kind="wallet"
        )
        account.balance = 19_999_99 if amount == "0.01" else 16_000_00
    result = await ComplianceGateService(factory, clock).check(send(13, amount, kind="receive"))
    expected = reasons.LIMIT_BALANCE if amount == "5000" else ""
    assert result.reason_code == expected


async def test_concurrent_checks_never_overshoot_the_daily_limit(pg_session_factory, clock) -> None:
    import asyncio

    from compliance.seed import ensure_defaults

    async with pg_session_factory() as session, session.begin():
        await ensure_defaults(session=session, now=clock.now())
        await kyc.ensure_profile(session=session, customer_id=77, now=clock.now())
    gate = ComplianceGateService(pg_session_factory, clock)
    results = await asyncio.gather(*(gate.check(send(77, "4000")) for _ in range(8)))
    assert sum(r.allowed for r in results) == 2  # T0: KES 10,000 a day
    assert {r.reason_code for r in results if not r.allowed} == {reasons.LIMIT_DAILY}
