"""Africa's Talking SMS callbacks over HTTP on both databases: inbound commands (BAL/SALIO, HELP,
STOP/START) answered once per AT message id, and delivery reports where a final status is never
overwritten and a failed receipt is resent as the retry rules in the database say."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import delete, select

from channels.sms import jobs
from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.flows.service import CoreFlows
from core.messaging.models import SentSms, SmsPreference, SmsRetryRule
from core.outbox.models import OutboxJob
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from webapp.app import create_app
from webapp.bootstrap import build_runtime

TOKEN = "sms-callback-token-0123456789abcdef"
PHONE = "+254711000111"
SEND_JOB = "channels.sms.jobs.send_sms"


@pytest.fixture
def at_fake() -> Iterator[FakeAfricasTalking]:
    server = FakeAfricasTalking().start()
    yield server
    server.stop()


@pytest.fixture
async def rt(db_url: str, at_fake: FakeAfricasTalking) -> AsyncIterator[Runtime]:
    settings = Settings(
        kibeti_env="test", database_url=db_url, at_base_url=at_fake.url, at_callback_token=TOKEN
    )  # fmt: skip
    runtime = build_runtime(settings)
    runtime.clock = FixedClock()
    runtime_module.install(runtime)
    yield runtime
    await runtime.session_factory.kw["bind"].dispose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _sms_jobs(rt: Runtime) -> list[dict[str, object]]:
    async with rt.session_factory() as session:
        query = select(OutboxJob).where(OutboxJob.job == SEND_JOB).order_by(OutboxJob.id)
        return [dict(row.kwargs) for row in (await session.scalars(query)).all()]


async def _inbound(client: httpx.AsyncClient, *, at_id: str, text: str, phone: str = PHONE) -> httpx.Response:
    form = {
        "date": "2026-12-05 09:00:00",
        "from": phone,
        "to": "22384",
        "text": text,
        "id": at_id,
        "linkId": "",
        "networkCode": "63902",
    }
    return await client.post(f"/sms/{TOKEN}/incoming", data=form)


async def _register(rt: Runtime, language: str = "en") -> None:
    await CoreFlows(rt).register(
        phone=PHONE,
        name="Achieng Otieno",
        national_id="23456789",
        pin="4826",
        language=language,
        idempotency_key="reg-sms",
    )


async def test_bal_is_answered_once_per_at_message_id_with_the_balances(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    await _register(rt)
    for _ in range(3):  # AT retries every minute until it gets a 200
        response = await _inbound(client, at_id="ATXid_1", text="bal")
        assert response.status_code == 200
    sent = await _sms_jobs(rt)
    replies = [job for job in sent if job["reference"] == "sms-in:ATXid_1"]
    assert len(replies) == 1
    assert replies[0]["phone"] == PHONE
    assert "KES 0.00" in str(replies[0]["text"]) and str(replies[0]["text"]).startswith("Kibeti balances")


async def test_salio_from_an_unregistered_number_answers_in_swahili(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    await _inbound(client, at_id="ATXid_2", text="  Salio ")
    (reply,) = [job for job in await _sms_jobs(rt) if job["reference"] == "sms-in:ATXid_2"]
    assert "haina akaunti ya Kibeti" in str(reply["text"])


async def test_a_registered_customer_is_answered_in_their_language_whatever_the_keyword(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    await _register(rt, language="sw")
    await _inbound(client, at_id="ATXid_3", text="HELP")
    (reply,) = [job for job in await _sms_jobs(rt) if job["reference"] == "sms-in:ATXid_3"]
    assert "tuma SALIO" in str(reply["text"])


async def test_stop_and_start_set_the_marketing_opt_out(rt: Runtime, client: httpx.AsyncClient) -> None:
    await _inbound(client, at_id="ATXid_4", text="STOP")
    async with rt.session_factory() as session:
        assert (await session.get(SmsPreference, PHONE)).marketing_opt_out is True  # type: ignore[union-attr]
    await _inbound(client, at_id="ATXid_5", text="anza")
    async with rt.session_factory() as session:
        assert (await session.get(SmsPreference, PHONE)).marketing_opt_out is False  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["", "🙂🙂", "x" * 5000, "BAL\x00", "SALIO🙂", "%%%"])
async def test_odd_texts_get_a_short_answer_never_an_error(
    rt: Runtime, client: httpx.AsyncClient, text: str
) -> None:
    response = await _inbound(client, at_id=f"ATXid_odd_{len(text)}_{text[:2]!r}", text=text)
    assert response.status_code == 200
    assert len(await _sms_jobs(rt)) == 1


async def test_a_wrong_token_is_refused_and_nothing_is_sent(rt: Runtime, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/sms/not-the-token/incoming", data={"from": PHONE, "id": "ATXid_9", "text": "BAL"}
    )
    assert response.status_code == 403
    response = await client.post("/sms/not-the-token/delivery", data={"id": "x", "status": "Success"})
    assert response.status_code == 403
    assert await _sms_jobs(rt) == []


async def _send_one(rt: Runtime, reference: str, text: str = "Kibeti: KES 100.00 received.") -> str:
    message_id = await jobs.send_sms(phone=PHONE, text=text, reference=reference)
    assert message_id
    return message_id


async def _report(client: httpx.AsyncClient, message_id: str, status: str, reason: str = "") -> None:
    form = {
        "id": message_id,
        "status": status,
        "phoneNumber": PHONE,
        "networkCode": "63902",
        "retryCount": "0",
    }
    if reason:
        form["failureReason"] = reason
    response = await client.post(f"/sms/{TOKEN}/delivery", data=form)
    assert response.status_code == 200


async def _sent(rt: Runtime, reference: str) -> SentSms:
    async with rt.session_factory() as session:
        row = await session.scalar(select(SentSms).where(SentSms.reference == reference))
        assert row is not None
        return row


async def test_a_final_status_is_never_overwritten_by_a_late_intermediate_one(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    message_id = await _send_one(rt, "receipt-1")
    await _report(client, message_id, "Buffered")
    await _report(client, message_id, "Success")
    await _report(client, message_id, "Sent")  # arrives late
    await _report(client, message_id, "Failed", "DeliveryFailure")
    row = await _sent(rt, "receipt-1")
    assert (row.status, row.failure_reason, row.retry_due_at) == ("Success", None, None)


async def test_a_report_for_an_unknown_message_or_status_changes_nothing(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    message_id = await _send_one(rt, "receipt-2")
    await _report(client, "ATXid_never_sent", "Success")
    await _report(client, message_id, "Delivered-ish")
    assert (await _sent(rt, "receipt-2")).status == "Sent"


async def _rules(rt: Runtime) -> None:
    async with rt.session_factory() as session:  # PostgreSQL tests empty every table, seeds included
        await session.execute(delete(SmsRetryRule))
        session.add_all(
            [SmsRetryRule(failure_reason="*", max_attempts=1, delay_seconds=0),
             SmsRetryRule(failure_reason="DeliveryFailure", max_attempts=2, delay_seconds=600)]
        )  # fmt: skip
        await session.commit()


async def test_a_failed_receipt_is_resent_once_when_its_rule_is_due(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    await _rules(rt)
    message_id = await _send_one(rt, "receipt-3")
    await _report(client, message_id, "Failed", "DeliveryFailure")
    assert await jobs.resend_failed() == 0  # not due yet
    rt.clock.advance(seconds=601)  # type: ignore[attr-defined]
    assert await jobs.resend_failed() == 1
    assert await jobs.resend_failed() == 0
    (resend,) = [job for job in await _sms_jobs(rt) if job["reference"] == "receipt-3#r2"]
    assert resend["text"] == "Kibeti: KES 100.00 received."
    second_id = await _send_one(rt, "receipt-3#r2")
    await _report(client, second_id, "Failed", "DeliveryFailure")
    rt.clock.advance(hours=1)  # type: ignore[attr-defined]
    assert await jobs.resend_failed() == 0  # the rule allows two attempts in all
    assert (await _sent(rt, "receipt-3#r2")).attempt == 2


async def test_a_blacklisted_number_and_a_one_time_code_are_never_resent(
    rt: Runtime, client: httpx.AsyncClient
) -> None:
    await _rules(rt)
    first = await _send_one(rt, "receipt-4")
    await _report(client, first, "Rejected", "UserInBlackList")
    keyring_text = "Your Kibeti code is 123456"
    code_id = await jobs.send_sms(phone=PHONE, text=keyring_text, reference="otp-1", sealed_secret="")
    async with rt.session_factory() as session:  # a code's text is never stored: mark it as one
        row = await session.scalar(select(SentSms).where(SentSms.reference == "otp-1"))
        assert row is not None
        row.text = None
        await session.commit()
    await _report(client, code_id, "Failed", "DeliveryFailure")
    rt.clock.advance(days=1)  # type: ignore[attr-defined]
    assert await jobs.resend_failed() == 0
