"""Issue 12 items 2 and 4: money coming in goes through the gate (paybill top-ups, chain deposits,
received sends): over a limit it is credited under a hold (not spendable, double entry intact) with
a review alert and an SMS saying why; staff release or refuse it (SMS either way), an undecided
review expires (SMS), dismissing the alert releases it; a staff-approved outbound request goes
through once on retry. Real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from compliance import cases, jobs, kyc, reviews
from compliance.models import Alert, Movement
from compliance.seed import ensure_defaults
from core.flows.service import CoreFlows
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from core.ports import Decision, MovementCheck
from payouts import c2b
from tests.integration.compliance import issue12
from tests.integration.compliance.test_api_cli import staff_token
from tests.integration.identity.api_helpers import api_client


@pytest.fixture
async def pg(pg_session_factory, clock):  # type: ignore[no-untyped-def]
    async with pg_session_factory() as session, session.begin():
        await ensure_defaults(session=session, now=clock.now())
    return pg_session_factory


async def pay_in(factory, trans_id: str, account: str, amount: str) -> str:  # type: ignore[no-untyped-def]
    async with factory() as session, session.begin():
        return await issue12.pay_in(session, trans_id, account, amount)


async def movements(factory, customer_id: int) -> list[Movement]:  # type: ignore[no-untyped-def]
    async with factory() as session:
        rows = await session.execute(
            select(Movement).where(Movement.customer_id == customer_id).order_by(Movement.id)
        )
        return list(rows.scalars())


async def suspense_kes(factory) -> Money:  # type: ignore[no-untyped-def]
    async with factory() as session:
        account = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
        await session.commit()
        return await ledger.balance(session=session, account_id=account.id)


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "is on hold for review: This amount is above your limit of KES 5,000.00 per transaction."),
        ("sw", "imezuiliwa kwa ukaguzi: Kiasi hiki kinazidi kikomo chako cha KES 5,000.00 kwa kila muamala."),
    ],
)
async def test_a_tier_0_paybill_over_the_limit_lands_held_with_an_sms_and_an_alert(
    pg, clock, language: str, says: str
) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100001", "41234567", language=language)

    assert await pay_in(pg, "RKT0000001", "0712100001", "25000") == "held"
    assert await pay_in(pg, "RKT0000001", "0712100001", "25000") == "duplicate"  # never twice

    posted, available = await issue12.kes_wallet(pg, customer_id)
    assert posted == Money.of("25000", Asset.KES) and available == Money.zero(Asset.KES)
    [movement] = await movements(pg, customer_id)
    assert (movement.kind, movement.decision, movement.reason_code) == (
        "topup",
        "review",
        "limit_transaction_exceeded",
    )
    async with pg() as session:
        alert = (await session.execute(select(Alert).where(Alert.customer_id == customer_id))).scalar_one()
    assert alert.rule_code == "inbound_held" and alert.movement_ids == [movement.id]
    assert alert.summary.startswith("topup of KES 25,000.00 held"), alert.summary
    [held] = await issue12.notices_for(pg, customer_id)
    text = issue12.notice_text(held, language)
    assert text.startswith("KES 25,000.00") and says in text, text
    assert not await issue12.staged(pg, c2b.RECEIPT_JOB)  # no "you received" while it is held

    async with pg() as session, session.begin():
        await reviews.decide(
            session=session, movement_id=movement.id, approve=True, actor="staff:1", now=clock.now()
        )
    assert (await issue12.kes_wallet(pg, customer_id))[1] == Money.of("25000", Asset.KES)
    released = (await issue12.notices_for(pg, customer_id))[-1]
    assert released["code"] == "compliance.sms.inbound_approved"
    assert ("released" if language == "en" else "imeachiliwa") in issue12.notice_text(released, language)


async def test_a_paybill_within_the_limits_is_credited_and_recorded_for_monitoring(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100002", "42234567")
    assert await pay_in(pg, "RKT0000002", "0712100002", "3000") == "credited"
    assert (await issue12.kes_wallet(pg, customer_id))[1] == Money.of("3000", Asset.KES)
    [movement] = await movements(pg, customer_id)
    assert (movement.kind, movement.decision) == ("topup", "allow")
    assert {"movement_id": movement.id} in await issue12.staged(pg, "compliance.jobs.monitor_movement")
    limits = await rt.compliance.limits(customer_id)  # type: ignore[union-attr]
    assert limits.used_today == Money.zero(Asset.KES)  # money in does not use up the daily limit


async def test_a_paybill_over_the_balance_cap_is_held_and_refused_money_goes_to_suspense(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100003", "43234567")
    await issue12.give_kes(pg, customer_id, "18000")
    assert await pay_in(pg, "RKT0000003", "0712100003", "4000") == "held"  # 22,000 > 20,000
    [movement] = await movements(pg, customer_id)
    assert movement.reason_code == "limit_balance_exceeded"
    before = await suspense_kes(pg)

    officer = {"Authorization": f"Bearer {await staff_token(pg, clock, 'compliance')}"}
    url = f"/api/staff/compliance/movements/{movement.id}/decide"
    async with api_client(rt) as (_app, client):
        refused = await client.post(url, json={"approve": False, "note": "source unclear"}, headers=officer)
        again = await client.post(url, json={"approve": True}, headers=officer)
    assert refused.status_code == 200 and refused.json()["decision"] == "deny", refused.text
    assert again.status_code == 409 and again.json()["code"] == "movement_not_held"
    assert await issue12.kes_wallet(pg, customer_id) == (Money.of("18000", Asset.KES),) * 2
    assert await suspense_kes(pg) - before == Money.of("4000", Asset.KES)  # never lost
    refusal = (await issue12.notices_for(pg, customer_id))[-1]
    assert "refunded" in issue12.notice_text(refusal, "en") and "urudishiwe" in issue12.notice_text(
        refusal, "sw"
    )


async def test_a_received_send_over_the_recipients_cap_is_held(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    flows = CoreFlows(rt)
    sender = await issue12.register(flows, "+254712100004", "44234567", name="Otieno Juma")
    recipient = await issue12.register(flows, "+254712100005", "45234567")
    await jobs.verify_identity(sender)  # T1: the sender may send 4,000
    await issue12.give_kes(pg, sender, "10000")
    await issue12.give_kes(pg, recipient, "18000")
    receipt = await flows.confirm_send(
        customer_id=sender,
        quote_id="kes:400000",
        to_phone="+254712100005",
        pin=issue12.PIN,
        idempotency_key="s1",
    )
    assert receipt.status == "done"
    posted, available = await issue12.kes_wallet(pg, recipient)
    assert posted == Money.of("22000", Asset.KES) and available == Money.of("18000", Asset.KES)
    [received] = await movements(pg, recipient)
    assert (received.kind, received.counterparty, received.decision) == ("receive", "+254712100004", "review")


async def test_a_chain_deposit_to_a_frozen_account_is_held_not_lost(pg, clock) -> None:
    from wallets.models import ChainDeposit
    from wallets.networks import Network
    from wallets.scanning import crediting

    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100006", "46234567")
    async with pg() as session, session.begin():
        await kyc.set_frozen(
            session=session, customer_id=customer_id, frozen=True, reason="t", actor="t", now=clock.now()
        )
    deposit = ChainDeposit(
        txid="ab" * 32, log_index=0, amount_minor=5_000_000, address="TXaddr", block_height=1
    )
    for _rerun in range(2):  # a rerun books nothing more and holds nothing twice
        async with pg() as session, session.begin():
            await crediting.book_deposit(
                session=session,
                network=Network.TRC20,
                deposit=deposit,
                owner_type="customer",
                owner_id=customer_id,
            )
    [movement] = await movements(pg, customer_id)
    assert (movement.kind, movement.decision, movement.reason_code) == (
        "deposit",
        "review",
        "compliance_review",
    )
    async with pg() as session:
        wallet = await ledger.get_or_open_account(
            session=session,
            owner_type="customer",
            owner_id=customer_id,
            asset=Asset.USDT_TRC20,
            kind="wallet",
        )
        await session.commit()
        assert await ledger.balance(session=session, account_id=wallet.id) == Money.of("5", Asset.USDT_TRC20)
        assert await ledger.available(session=session, account_id=wallet.id) == Money.zero(Asset.USDT_TRC20)


async def test_dismissing_the_alert_releases_what_it_held(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100007", "47234567")
    assert await pay_in(pg, "RKT0000007", "0712100007", "6000") == "held"
    async with pg() as session, session.begin():
        alert = (await session.execute(select(Alert).where(Alert.customer_id == customer_id))).scalar_one()
        await cases.dismiss_alert(
            session=session, alert_id=alert.id, actor="staff:1", note="known payer", now=clock.now()
        )
    assert (await issue12.kes_wallet(pg, customer_id))[1] == Money.of("6000", Asset.KES)
    assert (await issue12.notices_for(pg, customer_id))[-1]["code"] == "compliance.sms.inbound_approved"


async def test_an_undecided_review_expires_with_an_sms(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100008", "48234567", language="sw")
    assert await pay_in(pg, "RKT0000008", "0712100008", "7000") == "held"
    await jobs.expire_reviews()
    [movement] = await movements(pg, customer_id)
    assert movement.decision == "review"  # not yet: 72 hours
    clock.advance(hours=73)
    await jobs.expire_reviews()
    [movement] = await movements(pg, customer_id)
    assert (movement.decision, movement.reason_code) == ("deny", "review_expired")
    expired = (await issue12.notices_for(pg, customer_id))[-1]
    assert expired["code"] == "compliance.sms.inbound_expired"
    assert "haikuidhinishwa kwa wakati" in issue12.notice_text(expired, "sw")
    assert await issue12.kes_wallet(pg, customer_id) == (Money.zero(Asset.KES),) * 2


async def test_an_approved_outbound_request_goes_through_once_on_retry(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100009", "49234567")
    await jobs.verify_identity(customer_id)  # T1; a large buy on a new account is held for review
    gate = rt.compliance
    assert gate is not None
    buy = MovementCheck(customer_id, "buy", Money.of("0.01", Asset.BTC), Money.of("150000", Asset.KES))
    first = await gate.check(buy)
    assert first.decision is Decision.REVIEW
    async with pg() as session, session.begin():
        await reviews.decide(
            session=session,
            movement_id=first.details["reference"],
            approve=True,
            actor="staff:1",
            now=clock.now(),
        )
    approved = (await issue12.notices_for(pg, customer_id))[-1]
    assert issue12.notice_text(approved, "en").startswith("Your request of KES 150,000.00 was approved")
    assert issue12.notice_text(approved, "sw").startswith("Ombi lako la KES 150,000.00 limeidhinishwa")
    assert (await gate.check(buy)).decision is Decision.ALLOW
    assert (await gate.check(buy)).decision is Decision.REVIEW  # the approval is used once


def test_the_typologies_see_paybill_top_ups_as_money_coming_in() -> None:
    from datetime import UTC, datetime, timedelta

    from compliance.rules import MovementView, RuleConfig, RuleContext, evaluate

    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

    def at(hours: int, movement_id: int, kind: str, kes: int, counterparty: str = "") -> MovementView:
        return MovementView(movement_id, 7, kind, kes * 100, counterparty, start + timedelta(hours=hours))

    history = [at(0, 1, "topup", 10_000), at(1, 2, "sell", 9_000), at(2, 3, "topup", 10_000)]
    configs = [
        RuleConfig("pass_through", "monitor", 70, {"window_hours": 24, "ratio": "0.80", "cycles_7d": 2}),
        RuleConfig("fan_in", "monitor", 60, {"counterparties_7d": 2}),
    ]
    history += [at(2, 5, "topup", 100, "25471****001"), at(2, 6, "topup", 100, "25472****002")]
    hits = evaluate(configs, at(3, 4, "sell", 9_500), history, RuleContext())
    assert sorted(h.code for h in hits) == ["fan_in", "pass_through"]


async def test_a_send_waiting_for_an_unregistered_number_is_held_when_collected_over_the_limit(
    pg, clock
) -> None:
    rt = issue12.build_runtime(pg, clock)
    flows = CoreFlows(rt)
    sender = await issue12.register(flows, "+254712100010", "50234567", name="Otieno Juma")
    await jobs.verify_identity(sender)
    await issue12.give_kes(pg, sender, "10000")
    waiting = await flows.confirm_send(
        customer_id=sender,
        quote_id="kes:600000",
        to_phone="+254712100011",
        pin=issue12.PIN,
        idempotency_key="c1",
    )
    assert waiting.status == "claim"
    newcomer = await issue12.register(flows, "+254712100011", "51234560")  # collects the claim, at T0
    posted, available = await issue12.kes_wallet(pg, newcomer)
    assert posted == Money.of("6000", Asset.KES) and available == Money.zero(Asset.KES)
    [received] = await movements(pg, newcomer)
    assert (received.kind, received.decision, received.reason_code) == (
        "receive",
        "review",
        "limit_transaction_exceeded",
    )


async def test_closing_a_case_as_a_false_positive_releases_what_its_alerts_held(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712100012", "52234560")
    assert await pay_in(pg, "RKT0000012", "0712100012", "6000") == "held"
    async with pg() as session, session.begin():
        alert = (await session.execute(select(Alert).where(Alert.customer_id == customer_id))).scalar_one()
        case = await cases.open_case(
            session=session, title="t", actor="staff:1", now=clock.now(), alert_ids=[alert.id]
        )
    assert (await issue12.kes_wallet(pg, customer_id))[1] == Money.zero(Asset.KES)  # still held in the case
    async with pg() as session, session.begin():
        await cases.close(
            session=session,
            case_id=case.id,
            disposition="false_positive",
            note="n",
            actor="staff:1",
            now=clock.now(),
        )
    assert (await issue12.kes_wallet(pg, customer_id))[1] == Money.of("6000", Asset.KES)
