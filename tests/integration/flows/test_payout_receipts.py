"""A customer's M-Pesa payout (a sell) ends: core.payments stages core.flows.jobs.payout_finished and the
customer gets one SMS - the receipt on success, "the money is back in your wallet" on failure - in their
language, one GSM-7 segment, with a reference fixed per payout (reruns are idempotent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.flows import jobs
from core.i18n.catalog import translate
from core.i18n.gsm import is_gsm7
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox import jobs as outbox_jobs
from core.outbox.models import OutboxJob
from core.payments import service as payments
from core.runtime import Runtime
from payouts.mpesa import results
from tests.fakes.notifier import FakeNotifier
from webapp.queues import InProcessJobQueue

Factory = async_sessionmaker[AsyncSession]
KES = Asset.KES


@pytest.fixture
def notifier(session_factory: Factory) -> Iterator[FakeNotifier]:
    fake = FakeNotifier()
    settings = Settings(kibeti_env="test", at_shortcode="*384*12345#")
    current = Runtime(
        settings=settings, session_factory=session_factory, clock=FixedClock(), queue=InProcessJobQueue()
    )
    current.notifier = fake
    previous = runtime_module._current
    runtime_module.install(current)
    yield fake
    runtime_module._current = previous


async def _sell_payout(factory: Factory, language: str, amount: str = "1500") -> tuple[str, str]:
    """A customer with KES 1,500.40 and a payout of `amount` to M-Pesa, as a sell leaves it."""
    async with factory() as session:
        customer = await identity.register_customer(
            session=session, phone="0712345678", name="Wanjiku", national_id="12345678",
            language=language, pin="4826",
        )  # fmt: skip
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer.id, asset=KES
        )
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        money = Money.of("1500.40", KES)
        await ledger.post_entry(
            session=session, idempotency_key="seed", kind="deposit",
            postings=[PostingRequest(float_account.id, -money), PostingRequest(wallet.id, money)],
        )  # fmt: skip
        payout = await payments.create_payout(
            session=session, idempotency_key="sell-1", account_id=wallet.id, phone=customer.phone,
            amount=Money.of(amount, KES), customer_id=customer.id, remarks="Kibeti sell",
        )  # fmt: skip
        await session.commit()
        return payout.id, customer.phone


async def _finish(factory: Factory, payout_id: str, code: str, receipt: str = "SKL7ABC123") -> None:
    async with factory() as session:
        await payments.apply_payout_result(
            session=session, originator_conversation_id=payout_id, conversation_id="AG_1",
            result=results.b2c_result(code, "done"), receipt=receipt, amount=None,
        )  # fmt: skip
        await session.commit()


async def _run_finished_job(factory: Factory) -> None:
    """Run the staged job the way the outbox relay does, twice (at-least-once delivery)."""
    async with factory() as session:
        rows = (
            (await session.execute(select(OutboxJob).where(OutboxJob.job == payments.FINISHED_JOB)))
            .scalars()
            .all()
        )
    assert len(rows) == 1, "exactly one payout_finished job per payout"
    await outbox_jobs.run(rows[0].id)
    async with factory() as session:  # a redelivery after the row was done does nothing
        row = await session.get(OutboxJob, rows[0].id)
        assert row is not None
        row.status = "pending"
        await session.commit()
    await outbox_jobs.run(rows[0].id)


def _one_segment(text: str) -> None:
    assert len(text) <= 160, f"{len(text)} chars: {text}"
    assert is_gsm7(text), text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Kibeti: KES 1,500.00 sent to your M-Pesa. M-Pesa ref SKL7ABC123. Your KES balance is KES 0.40."),
        ("sw", "Kibeti: KES 1,500.00 zimetumwa kwa M-Pesa yako. Kumb ya M-Pesa SKL7ABC123. Salio lako la KES ni KES 0.40."),
    ],
)  # fmt: skip
async def test_paid_sell_sends_the_receipt(
    session_factory: Factory, notifier: FakeNotifier, language: str, expected: str
) -> None:
    payout_id, phone = await _sell_payout(session_factory, language)
    await _finish(session_factory, payout_id, "0")
    await _run_finished_job(session_factory)
    assert notifier.sent[0] == (phone, expected, f"payout-finished-{payout_id}")
    assert {reference for _, _, reference in notifier.sent} == {f"payout-finished-{payout_id}"}
    _one_segment(expected)


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "is back in your Kibeti wallet. Dial"), ("sw", "imerudi kwenye pochi yako ya Kibeti. Piga")],
)
async def test_failed_sell_says_the_money_is_back(
    session_factory: Factory, notifier: FakeNotifier, language: str, words: str
) -> None:
    payout_id, phone = await _sell_payout(session_factory, language)
    await _finish(session_factory, payout_id, "2001", receipt="")  # a final failure (wrong initiator)
    await _run_finished_job(session_factory)
    (sent_phone, text, reference) = notifier.sent[0]
    assert (sent_phone, reference) == (phone, f"payout-finished-{payout_id}")
    assert "KES 1,500.00" in text and words in text and "*384*12345#" in text
    _one_segment(text)
    async with session_factory() as session:  # and it really is back
        payout = await payments.get_payout(session=session, payout_id=payout_id)
        assert await ledger.available(session=session, account_id=payout.account_id) == Money.of(
            "1500.40", KES
        )


def test_the_longest_receipt_still_fits_one_segment() -> None:
    for language in ("en", "sw"):
        for code in ("sms.sell_receipt", "sms.sell_failed", "sms.buy_receipt", "sms.buy_failed"):
            text = translate(
                code, language, amount="KES 250,000.00", balance="KES 9,999,999.99", ref="SKL7ABC1234",
                code="*384*12345#",
            )  # fmt: skip
            _one_segment(text)


async def test_a_payout_without_a_known_customer_sends_nothing(
    session_factory: Factory, notifier: FakeNotifier
) -> None:
    payout_id, _ = await _sell_payout(session_factory, "en")
    async with session_factory() as session:
        payout = await payments.get_payout(session=session, payout_id=payout_id)
        payout.customer_id = 999_999
        await session.commit()
    await _finish(session_factory, payout_id, "0")
    assert await jobs.payout_finished(payout_id) == "skipped"
    assert notifier.sent == []


class _ProcessDied(BaseException):
    """Stands for a kill -9 while the SMS is being handed over: nothing after it runs."""


async def test_a_receipt_job_that_dies_before_the_sms_leaves_its_row_to_run_again(
    session_factory: Factory, notifier: FakeNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    payout_id, _phone = await _sell_payout(session_factory, "en")
    await _finish(session_factory, payout_id, "0")
    async with session_factory() as session:
        [row] = (
            await session.execute(select(OutboxJob).where(OutboxJob.job == payments.FINISHED_JOB))
        ).scalars()

    async def dies(**_: object) -> None:
        raise _ProcessDied

    monkeypatch.setattr(notifier, "send_sms", dies)
    with pytest.raises(_ProcessDied):
        await outbox_jobs.run(row.id)
    async with session_factory() as session:
        assert (await session.get(OutboxJob, row.id)).status != "done"  # type: ignore[union-attr]
    monkeypatch.undo()
    await outbox_jobs.run(row.id)  # the rerun (the relay's redispatch) sends it
    assert [reference for _, _, reference in notifier.sent] == [f"payout-finished-{payout_id}"]
    async with session_factory() as session:
        assert (await session.get(OutboxJob, row.id)).status == "done"  # type: ignore[union-attr]
