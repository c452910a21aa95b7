"""Issue 11 item 3: a payout M-Pesa refuses returns everything it took - the principal (held, now
released) and the payout fee (refunded in one ledger entry) - and the SMS says what the customer can
do: the USSD cash-out menu (main menu item 5), in English and Swahili, one GSM-7 segment."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from compliance.gate import ComplianceGateService
from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.flows import jobs as flow_jobs
from core.flows.trading import _mpesa_fee
from core.i18n.catalog import translate
from core.i18n.gsm import is_gsm7
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import AccountKind, JournalEntry, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from core.payments import service as payments
from core.ports import MovementCheck
from core.quotes.models import Quote
from core.runtime import Runtime
from payouts.mpesa import results
from tests.fakes.notifier import FakeNotifier
from webapp.queues import InProcessJobQueue

KES = Asset.KES


@pytest.fixture
def notifier(session_factory):
    fake = FakeNotifier()
    current = Runtime(
        settings=Settings(kibeti_env="test", at_shortcode="*483*1#"),
        session_factory=session_factory,
        clock=FixedClock(),
        queue=InProcessJobQueue(),
    )
    current.notifier = fake
    previous = runtime_module._current
    runtime_module.install(current)
    yield fake
    runtime_module._current = previous


async def _sold(factory, language: str) -> tuple[str, int]:
    """A sell as the quote leaves it: KES 1,530.40 received, KES 30 of it booked as the M-Pesa fee,
    then a payout of KES 1,500 with that fee."""
    async with factory() as session:
        customer = await identity.register_customer(
            session=session, phone="0712345678", name="Wanjiku", national_id="12345678",
            language=language, pin="4826",
        )  # fmt: skip
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer.id, asset=KES
        )
        liquidity = await ledger.system_account(session=session, kind=AccountKind.FX_LIQUIDITY, asset=KES)
        revenue = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=KES)
        received, fee = Money.of("1530.40", KES), Money.of(30, KES)
        await ledger.post_entry(
            session=session, idempotency_key="quote:1", kind="quote_sell",
            postings=[
                PostingRequest(liquidity.id, -(received + fee)),
                PostingRequest(revenue.id, fee),
                PostingRequest(wallet.id, received),
            ],
        )  # fmt: skip
        payout = await payments.create_payout(
            session=session, idempotency_key="sell-1", account_id=wallet.id, phone=customer.phone,
            amount=Money.of("1500", KES), customer_id=customer.id, remarks="Kibeti sell", fee=fee,
        )  # fmt: skip
        await session.commit()
        return payout.id, wallet.id


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "KES 1,530.00 is back in your Kibeti wallet. Dial *483*1# > 5 Cash out to try again."),
        ("sw", "KES 1,530.00 imerudi kwenye pochi yako ya Kibeti. Piga *483*1# > 5 Toa pesa kujaribu tena."),
    ],
)
async def test_a_refused_payout_returns_principal_and_fee_and_says_how_to_retry(
    session_factory, notifier, language, words
):
    payout_id, wallet_id = await _sold(session_factory, language)
    async with session_factory() as session:
        assert await ledger.available(session=session, account_id=wallet_id) == Money.of("30.40", KES)
        outcome = await payments.apply_payout_result(
            session=session, originator_conversation_id=payout_id, conversation_id="AG_1",
            result=results.b2c_result("2001", "The initiator information is invalid."), receipt="", amount=None,
        )  # fmt: skip
        await session.commit()
    assert outcome == "failed"
    async with session_factory() as session:
        # everything the payout took: the 1,500 held and the 30 fee
        assert await ledger.available(session=session, account_id=wallet_id) == Money.of("1560.40", KES)
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.of("1560.40", KES)
        refunds = (
            (await session.execute(select(JournalEntry).where(JournalEntry.kind == "mpesa_payout_refund")))
            .scalars()
            .all()
        )
        assert len(refunds) == 1 and refunds[0].details["fee_minor"] == 3000
        assert refunds[0].details["principal_minor"] == 150000
        assert (await verify(session=session)).ok
    # a second failure report changes nothing
    async with session_factory() as session:
        await payments.fail_payout(session=session, payout_id=payout_id, result_code="2001", reason="again")
        await session.commit()
        assert await ledger.available(session=session, account_id=wallet_id) == Money.of("1560.40", KES)
    assert await flow_jobs.payout_finished(payout_id) == "failed"
    (_, text, _) = notifier.sent[0]
    assert "KES 1,500.00" in text and words in text, text
    assert is_gsm7(text) and len(text) <= 160


def test_the_longest_failure_sms_fits_one_segment():
    for language in ("en", "sw"):
        text = translate(
            "sms.payout_failed_refunded", language, amount="KES 250,000.00", back="KES 250,030.00",
            code="*384*12345#",
        )  # fmt: skip
        assert is_gsm7(text) and len(text) <= 160, (language, len(text))
        assert "{" not in text


def test_a_sell_quote_gives_its_mpesa_fee_to_the_payout():
    row = Quote(fees=[{"kind": "mpesa", "minor": 3000}, {"kind": "other", "minor": 5}])
    assert _mpesa_fee(row) == Money.of(30, KES)


async def test_a_refused_payout_stops_counting_against_the_daily_limit(session_factory, notifier):
    """Found by QA: a Tier-0 customer whose cash-out M-Pesa refused got the money back but had used
    the day's limit anyway, so the retry the SMS suggests was refused."""

    gate = ComplianceGateService(session_factory, FixedClock(), fail_closed_without_list=False)
    runtime_module.get().compliance = gate
    payout_id, _ = await _sold(session_factory, "en")
    async with session_factory() as session:
        customer_id = (await payments.get_payout(session=session, payout_id=payout_id)).customer_id
    assert customer_id is not None
    amount = Money.of("1500", KES)
    allowed = await gate.check(MovementCheck(customer_id, "sell", amount, amount, reference="sell-1"))
    assert allowed.allowed
    other = await gate.check(MovementCheck(customer_id, "send", Money.of(100, KES), Money.of(100, KES)))
    assert other.allowed
    assert (await gate.limits(customer_id)).used_today == Money.of(1600, KES)
    async with session_factory() as session:
        await payments.apply_payout_result(
            session=session, originator_conversation_id=payout_id, conversation_id="AG_2",
            result=results.b2c_result("2001", "refused"), receipt="", amount=None,
        )  # fmt: skip
        await session.commit()
    assert await flow_jobs.payout_finished(payout_id) == "failed"
    assert (await gate.limits(customer_id)).used_today == Money.of(100, KES)  # the send still counts
    assert await flow_jobs.payout_finished(payout_id) == "failed"  # a rerun reverses nothing more
    assert (await gate.limits(customer_id)).used_today == Money.of(100, KES)
    assert await gate.reverse(reference="") == 0
