"""Pay a merchant over the USSD callback (Send -> 3), on PostgreSQL + Redis with the real compliance
gate: the merchant's name behind the till, the KES balance or crypto at a locked quote, the PIN;
the customer's receipt and the merchant's SMS (masked payer, where it settles) in their languages;
an unknown till moves nothing."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core.clock import FixedClock
from core.merchants import service as merchants
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments.models import Payout
from core.runtime import Runtime
from core.settlements import jobs as settlement_jobs
from core.settlements.models import MerchantCredit
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import AtPhone, balance_of, deliver_sms, funded, refresh_rates

MERCHANT_PHONE = "+254711222333"


async def _merchant(rt: Runtime, *, language: str = "en", schedule: str = "daily") -> int:
    async with rt.session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Mama Mboga Stores", actor="test", clock=FixedClock(), till_code="246810",
            settlement_method="till", settlement_till="5551234", notification_phones=[MERCHANT_PHONE],
            language=language, settlement_schedule=schedule,
        )  # fmt: skip
        merchant.status = "active"
        await session.commit()
        return merchant.id


async def _credited_jobs(rt: Runtime) -> None:
    """What the relay and a worker do: the credit's job (merchant SMS, instant settlement)."""
    async with rt.session_factory() as session:
        rows = (
            await session.execute(
                select(OutboxJob).where(
                    OutboxJob.job == "core.settlements.jobs.merchant_credited",
                    OutboxJob.status == OutboxStatus.PENDING.value,
                )
            )
        ).scalars()
        kwargs = [dict(row.kwargs) for row in rows]
    for each in kwargs:
        assert await settlement_jobs.merchant_credited(**each) == "sent"


async def _pay(phone: AtPhone, till: str, amount: str, source: str) -> tuple[str, str, str]:
    await phone.dial()
    await phone.send("4")
    asked = await phone.send("3")
    named = await phone.send(till)
    await phone.send(amount)
    confirm = await phone.send(source)
    return asked, named, confirm


async def test_pay_the_till_from_the_kes_balance_and_both_get_an_sms(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await _merchant(rt)
    phone = await funded(client, rt, "+254712345678", "1", "1000", "KES")
    asked, named, confirm = await _pay(phone, "246810", "300", "1")
    assert "till number" in asked
    assert named.startswith("CON Pay Mama Mboga Stores\nTill 246810")
    assert confirm.startswith("CON Pay KES 300.00 to Mama Mboga Stores, till 246810")
    done = await phone.send("4826")
    assert done.startswith("END Paid KES 300.00 to Mama Mboga Stores. Ref KP")
    assert (await phone.hop()) == done  # Africa's Talking repeats the hop: paid once
    assert await balance_of(rt, phone.number, "KES") == "700.00"
    await phone.dial()
    assert "-KES 300.00 merchant" in await phone.send("7")  # the mini statement names it
    await _credited_jobs(rt)
    await deliver_sms(rt)
    merchant_sms = [m.message for m in at_fake.messages_for(MERCHANT_PHONE)]
    assert len(merchant_sms) == 1 and len(merchant_sms[0]) <= 160
    assert merchant_sms[0].startswith("Kibeti: KES 300.00 paid by 0712***678 for KP")
    assert merchant_sms[0].endswith("Settles to till 5551234 today.") or merchant_sms[0].endswith("tomorrow.")
    receipts = [m.message for m in at_fake.messages_for(phone.number) if "Mama Mboga" in m.message]
    assert receipts and "you paid KES 300.00 to Mama Mboga Stores" in receipts[0]
    assert "KES 700.00" in receipts[0]
    await _credited_jobs(rt)  # a repeated job sends nothing twice
    await deliver_sms(rt)
    assert len(at_fake.messages_for(MERCHANT_PHONE)) == 1


async def test_swahili_customer_and_merchant(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await _merchant(rt, language="sw", schedule="instant")
    phone = await funded(client, rt, "+254712345678", "2", "1000", "KES")
    asked, named, confirm = await _pay(phone, "246810", "250", "1")
    assert "nambari ya till" in asked and named.startswith("CON Lipa Mama Mboga Stores")
    assert "Weka PIN" in confirm
    assert (await phone.send("4826")).startswith("END Umelipa KES 250.00 kwa Mama Mboga Stores.")
    await _credited_jobs(rt)
    await deliver_sms(rt)
    sms = at_fake.messages_for(MERCHANT_PHONE)[0].message
    assert sms.startswith("Kibeti: KES 250.00 zimelipwa na 0712***678 kwa KP") and sms.endswith("leo.")
    async with rt.session_factory() as session:  # instant: the settlement is on its way, by B2B
        payout = (await session.execute(select(Payout))).scalar_one()
    assert (payout.kind, payout.receiver_kind, payout.phone) == ("b2b", "till", "5551234")
    assert payout.amount_minor == 24_600  # KES 250 less 1.5 % (3.75), whole shillings


async def test_pay_from_usdt_at_a_locked_quote(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    await _merchant(rt)
    phone = await funded(client, rt, "+254712345678", "1", "50", "USDT-TRC20")
    _, _, confirm = await _pay(phone, "246810", "300", "4")
    assert "With USDT" in confirm and "Rate 1 USDT=KES" in confirm and "Enter PIN" in confirm
    assert (await phone.send("4826")).startswith("END Paid KES 300.00 to Mama Mboga Stores.")
    assert float(await balance_of(rt, phone.number, "USDT-TRC20")) < 50
    assert await balance_of(rt, phone.number, "KES") == "0.00"
    async with rt.session_factory() as session:
        credit = (await session.execute(select(MerchantCredit))).scalar_one()
    assert (credit.gross_minor, credit.fee_minor, credit.paid_asset) == (30_000, 450, "USDT-TRC20")


async def test_no_merchant_with_that_till_moves_nothing(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await _merchant(rt)
    phone = await funded(client, rt, "+254712345678", "1", "1000", "KES")
    await phone.menu("4", "3")
    reply = await phone.send("12345")
    assert reply.startswith("CON No merchant with till 12345")
    assert await balance_of(rt, phone.number, "KES") == "1000.00"
    async with rt.session_factory() as session:
        assert (await session.execute(select(MerchantCredit))).first() is None
