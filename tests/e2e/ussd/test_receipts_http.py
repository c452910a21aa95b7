"""Receipt SMS through the real notifier (outbox -> channels.sms -> the Africa's Talking fake): a buy
after the STK push, and a sell once M-Pesa's B2C result arrives; one GSM-7 segment each."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core.flows import jobs
from core.i18n.gsm import is_gsm7
from core.outbox import jobs as outbox_jobs
from core.outbox.models import OutboxJob
from core.payments import service as payments
from core.payments.models import Payout
from core.runtime import Runtime
from payouts.mpesa import results
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import deliver_sms, funded, refresh_rates, registered, stk_paid


def _one_segment(text: str) -> None:
    assert len(text) <= 160 and is_gsm7(text), text


async def test_a_completed_buy_sends_the_receipt(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await registered(client, "+254712345678", "1")
    await phone.menu("2", "3", "1000")
    assert (await phone.send("4826")).startswith("END Approve the M-Pesa prompt")
    kwargs = await stk_paid(rt, checkout_request_id="ws_CO_9", receipt="SKT9RCPT01")
    assert await jobs.complete_buy(**kwargs) == "bought"
    await deliver_sms(rt)
    [receipt] = [m.message for m in at_fake.messages_for(phone.number) if "bought" in m.message]
    assert receipt.startswith("Kibeti: you bought USDT ") and "M-Pesa ref SKT9RCPT01" in receipt
    assert " on TRON. M-Pesa ref" in receipt  # issue 19: USDT is on two networks; the SMS names it
    _one_segment(receipt)


async def test_a_paid_sell_sends_the_receipt_in_swahili(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await funded(client, rt, "+254712345678", "2", "50", "USDT-TRC20")
    await phone.menu("3", "3", "3")  # issue 19: sell an amount in the crypto
    await phone.send("20")
    assert (await phone.send("4826")).startswith("END Imekamilika.")
    async with rt.session_factory() as session:
        payout = (await session.execute(select(Payout))).scalar_one()
        await payments.apply_payout_result(
            session=session, originator_conversation_id=payout.id, conversation_id="AG_9",
            result=results.b2c_result("0", "ok"), receipt="SKL9PAID01", amount=None,
        )  # fmt: skip
        await session.commit()
        job = (
            await session.execute(select(OutboxJob).where(OutboxJob.job == payments.FINISHED_JOB))
        ).scalar_one()
    await outbox_jobs.run(job.id)
    await deliver_sms(rt)
    [receipt] = [m.message for m in at_fake.messages_for(phone.number) if "M-Pesa yako" in m.message]
    assert receipt.startswith("Kibeti: KES ") and "Kumb ya M-Pesa SKL9PAID01" in receipt
    assert "Salio lako la KES ni KES " in receipt
    _one_segment(receipt)
