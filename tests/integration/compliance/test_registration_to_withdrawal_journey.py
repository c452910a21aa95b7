"""Issue 12's Done-when, over the real app (USSD callback form, staff API), PostgreSQL, Redis and the
Africa's Talking fake: a new USSD customer registers with name, ID and date of birth, is screened (the
audit shows when), is lifted to T1 by the identity simulator and can withdraw crypto within T1 limits;
a Tier-0 customer's KES 25,000 paybill lands held with an SMS and a review alert; after a PIN reset a
send is refused with the cool-down message and the customer got an SMS with a one-time code."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from compliance.models import Alert, KycProfile
from compliance.sanctions import store
from compliance.sanctions.loader import load_path
from core import runtime as runtime_module
from core.audit.models import AuditEntry
from core.config import Settings
from core.errors import KibetiError
from core.flows.service import CoreFlows
from core.identity import flows as identity_flows
from core.identity import service as identity
from core.money import Asset, Money
from core.outbox.models import OutboxJob, OutboxStatus
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import TOKEN, AtPhone, deliver_sms, fund, refresh_rates
from tests.e2e.ussd.conftest import at_fake as at_fake
from tests.integration.compliance import issue12
from tests.integration.compliance.test_api_cli import staff_token
from tests.integration.identity.helpers import SECRET_KEY
from webapp.app import create_app
from webapp.bootstrap import build_runtime

pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
TRON_ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
COMPLIANCE_JOBS = ("compliance.jobs.verify_identity", "compliance.notices.send_notice")


@pytest.fixture
async def rt(clean_pg_url: str, redis_url: str, at_fake: FakeAfricasTalking) -> AsyncIterator[Runtime]:
    settings = Settings(
        kibeti_env="test", database_url=clean_pg_url, redis_url=redis_url, at_base_url=at_fake.url,
        at_callback_token=TOKEN, secret_key=SECRET_KEY,
    )  # fmt: skip
    runtime = build_runtime(settings)
    runtime_module.install(runtime)
    yield runtime
    if runtime.redis is not None:
        await runtime.redis.aclose()
    runtime.queue.connection.close()  # type: ignore[attr-defined]
    await runtime.session_factory.kw["bind"].dispose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(rt, run_scheduler_inside=False)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def run_compliance_jobs(rt: Runtime, done: set[int]) -> None:
    """What the outbox relay and a worker do: the staged compliance jobs (and those they stage),
    then the SMS."""
    while True:
        async with rt.session_factory() as session:
            rows = await session.execute(
                select(OutboxJob).where(
                    OutboxJob.job.in_(COMPLIANCE_JOBS), OutboxJob.status == OutboxStatus.PENDING.value
                )
            )
            pending = [(row.id, row.job, dict(row.kwargs)) for row in rows.scalars() if row.id not in done]
        if not pending:
            break
        for row_id, job, kwargs in pending:
            done.add(row_id)
            module, _, name = job.rpartition(".")
            await getattr(importlib.import_module(module), name)(**kwargs)
    await deliver_sms(rt)


async def customer_id_of(rt: Runtime, phone: str) -> int:
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone)
        assert customer is not None
        return customer.id


async def register(phone: AtPhone, name: str, national_id: str) -> str:
    await phone.dial()
    for value in ("1", name, national_id, "15031990", "1", "4826"):
        await phone.send(value)
    return await phone.send("4826")


def texts(at_fake: FakeAfricasTalking, number: str) -> list[str]:
    return [m.message for m in at_fake.messages_for(number)]


async def test_issue_12_done_when(
    client: httpx.AsyncClient, rt: Runtime, at_fake: FakeAfricasTalking
) -> None:
    done: set[int] = set()
    await refresh_rates(rt)
    async with rt.session_factory() as session, session.begin():
        crypto = load_path(Path("/work/shared/data/sanctions/crypto"))
        await store.save_version(session=session, lists=crypto, loaded_by="test")

    # a new USSD customer registers with name, ID and date of birth, and is screened (audited, with when)
    amina = AtPhone(client, "+254712345678")
    assert (await register(amina, "Amina Wanjiru", "12345678")).startswith("END Welcome to Kibeti, Amina!")
    amina_id = await customer_id_of(rt, amina.number)
    async with rt.session_factory() as session:
        profile = await session.get(KycProfile, amina_id)
        assert profile is not None and profile.date_of_birth is not None
        assert (profile.full_name, profile.id_number, profile.date_of_birth.isoformat()) == (
            "Amina Wanjiru",
            "12345678",
            "1990-03-15",
        )
        screened = (
            await session.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "kyc.screened", AuditEntry.subject == f"customer:{amina_id}"
                )
            )
        ).scalar_one()
    assert screened.details["outcome"] == "clear" and screened.details["screened_at"]

    # ... is lifted to T1 by the identity simulator (and told so by SMS)
    await run_compliance_jobs(rt, done)
    assert (await rt.compliance.limits(amina_id)).tier == 1  # type: ignore[union-attr]
    assert any("Your ID is verified" in t for t in texts(at_fake, amina.number))

    # ... and can withdraw crypto within T1 limits (about USD 1,000 a withdrawal)
    await fund(rt, amina.number, "2000", "USDT-TRC20")
    flows = CoreFlows(rt)
    small = await flows.quote_withdraw(
        customer_id=amina_id, amount=Money.of("10", Asset.USDT_TRC20), address=TRON_ADDRESS
    )
    receipt = await flows.confirm_withdraw(
        customer_id=amina_id, quote_id=small.id, address=TRON_ADDRESS, pin="4826", idempotency_key="w-small"
    )
    assert receipt.status == "pending" and receipt.amount.amount < Decimal("10")
    large = await flows.quote_withdraw(
        customer_id=amina_id, amount=Money.of("1500", Asset.USDT_TRC20), address=TRON_ADDRESS
    )
    with pytest.raises(KibetiError, match="limit_crypto_withdrawal_exceeded"):
        await flows.confirm_withdraw(
            customer_id=amina_id,
            quote_id=large.id,
            address=TRON_ADDRESS,
            pin="4826",
            idempotency_key="w-large",
        )

    # a Tier-0 customer's KES 25,000 paybill lands held, with an SMS and a review alert
    otieno = AtPhone(client, "+254722000111")
    assert (await register(otieno, "Otieno Juma", "23456789")).startswith("END Welcome to Kibeti, Otieno!")
    otieno_id = await customer_id_of(rt, otieno.number)
    async with rt.session_factory() as session, session.begin():
        assert await issue12.pay_in(session, "RKT12DONE1", "0722000111", "25000") == "held"
    async with rt.session_factory() as session:
        alert = (await session.execute(select(Alert).where(Alert.customer_id == otieno_id))).scalar_one()
    assert alert.rule_code == "inbound_held" and alert.status == "open"
    await run_compliance_jobs(rt, done)
    [held] = [t for t in texts(at_fake, otieno.number) if "on hold" in t]
    assert held.startswith("KES 25,000.00 reached your Kibeti wallet and is on hold for review"), held
    assert (await flows.balances(customer_id=otieno_id))[0].amount == Money.zero(Asset.KES)  # not spendable

    # after a PIN reset (staff never choose it: a one-time code by SMS) a send is refused with the cool-down
    support = {"Authorization": f"Bearer {await staff_token(rt.session_factory, rt.clock, 'support')}"}
    reset = await client.post(
        f"/api/staff/customers/{amina_id}/reset-pin", json={"kyc_rechecked": True}, headers=support
    )
    assert reset.status_code == 200, reset.text
    await deliver_sms(rt)
    [code_sms] = [t for t in texts(at_fake, amina.number) if t.startswith("Your Kibeti code is")]
    code = code_sms.removeprefix("Your Kibeti code is ")[:6]
    async with rt.session_factory() as session:
        await identity_flows.reset_pin_with_otp(
            limiter=rt.rate_limiter,
            session=session,
            phone=amina.number,
            otp=code,
            national_id="12345678",
            new_pin="7395",
            clock=rt.clock,
        )
        await session.commit()
    await fund(rt, amina.number, "1000", "KES")
    await amina.dial()
    menu = await amina.send("4")
    if "recipient" not in menu:  # a send menu first: 1 is "to a phone number"
        await amina.send("1")
    await amina.send("0722000111")
    await amina.send("1")  # KES
    refused_send = await amina.send("100")  # told at the amount step, before the PIN (issue 19)
    assert refused_send.startswith("END For your safety, sending and withdrawing money are paused"), (
        refused_send
    )
    assert (await flows.balances(customer_id=otieno_id))[0].amount == Money.zero(Asset.KES)
