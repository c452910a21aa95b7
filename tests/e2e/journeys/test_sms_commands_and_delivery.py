"""SMS end to end on the embedded default: a customer texts SALIO and gets the balance by SMS from
the Africa's Talking fake; the fake's delivery reports (late, out of order) reach the app and the
message's final status stays final."""

from __future__ import annotations

from sqlalchemy import select

from core.messaging.models import SentSms
from tests.e2e.journeys.conftest import Stack, eventually, register
from tests.e2e.ussd.conftest import TOKEN

PHONE = "+254711222333"


async def test_a_customer_texts_salio_and_the_reports_keep_the_final_status(stack: Stack) -> None:
    stack.at.delivery_report_url = f"{stack.url}/sms/{TOKEN}/delivery"
    stack.at.delivery_plans[PHONE] = [("Buffered", ""), ("Success", ""), ("Sent", "")]  # the last one is late
    await register(stack.phone(PHONE), "2", "Wanjiru Kamau")

    form = {"from": PHONE, "to": "22384", "text": "Salio", "id": "ATXid_e2e_salio", "date": "2026-12-05"}
    for _ in range(2):  # AT's retry of the same message
        assert (await stack.http.post(f"/sms/{TOKEN}/incoming", data=form)).status_code == 200

    async def balance_sms() -> list[str]:
        return [m.message for m in stack.at.messages_for(PHONE) if m.message.startswith("Salio la Kibeti")]

    replies = await eventually(balance_sms, what="the SALIO reply")
    assert isinstance(replies, list) and len(replies) == 1, replies
    assert replies[0].startswith(
        "Salio la Kibeti: KES 0.00; BTC 0.00; USDT-ERC20 0.00; USDT-TRC20 0.00. Piga"
    )

    async def recorded() -> list[str]:
        async with stack.rt.session_factory() as session:
            return list((await session.scalars(select(SentSms.status).where(SentSms.phone == PHONE))).all())

    async def all_reports_posted() -> bool:
        # the registration's SMS may still be on its way when the reply lands: count what was sent
        # and recorded once both agree, then wait for every one of their reports
        sent = len(stack.at.messages_for(PHONE))
        return len(await recorded()) == sent and len(stack.at.reports_posted) >= 3 * sent

    await eventually(all_reports_posted, what="every SMS recorded and every delivery report")
    statuses = await recorded()
    assert len(statuses) == len(stack.at.messages_for(PHONE)) and set(statuses) == {"Success"}
