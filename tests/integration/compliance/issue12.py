"""Builders for the issue 12 tests: a Runtime with the real gate (identity simulator) on PostgreSQL,
an SMS recorder, and readers for what the outbox staged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance import notices
from compliance.gate import ComplianceGateService
from compliance.iprs import SimulatedIprs
from core import runtime as runtime_module
from core.clock import FixedClock
from core.config import Settings
from core.flows.service import CoreFlows
from core.i18n import translate
from core.identity import service as identity
from core.identity.models import Customer
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.runtime import Runtime
from tests.fakes.notifier import FakeNotifier
from tests.integration.identity.helpers import KEYRING, SECRET_KEY
from webapp.queues import InProcessJobQueue

PIN = "4826"


def build_runtime(factory: async_sessionmaker[AsyncSession], clock: FixedClock) -> Runtime:
    settings = Settings(kibeti_env="test", secret_key=SECRET_KEY, trusted_proxies=["127.0.0.1/32"])
    rt = Runtime(settings=settings, session_factory=factory, clock=clock, queue=InProcessJobQueue())
    rt.compliance = ComplianceGateService(factory, clock, verifier=SimulatedIprs(lenient=True))
    rt.notifier = FakeNotifier()
    rt.keyring = lambda: KEYRING
    runtime_module.install(rt)
    return rt


async def staged(factory: async_sessionmaker[AsyncSession], job: str) -> list[dict[str, Any]]:
    """The kwargs of every outbox row for `job`, oldest first."""
    async with factory() as session:
        rows = await session.execute(select(OutboxJob).where(OutboxJob.job == job).order_by(OutboxJob.id))
        return [dict(row.kwargs) for row in rows.scalars()]


async def notices_for(factory: async_sessionmaker[AsyncSession], customer_id: int) -> list[dict[str, Any]]:
    return [k for k in await staged(factory, notices.JOB) if k["customer_id"] == customer_id]


def notice_text(notice: dict[str, Any], language: str) -> str:
    return notices.render(notice["code"], language, notice["values"], shortcode="*483*1#")


def pin_notice_text(code: str, language: str) -> str:
    return translate(code, language, code="*483*1#")


async def register(
    flows: CoreFlows, phone: str, national_id: str, *, name: str = "Amina Wanjiru", language: str = "en"
) -> int:
    from datetime import date

    view = await flows.register(
        phone=phone,
        name=name,
        national_id=national_id,
        pin=PIN,
        language=language,
        idempotency_key=f"reg:{phone}",
        date_of_birth=date(1990, 3, 15),
    )
    return view.id


async def give_kes(factory: async_sessionmaker[AsyncSession], customer_id: int, amount: str) -> None:
    async with factory() as session, session.begin():
        float_account = await ledger.system_account(
            session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
        )
        wallet = await ledger.get_or_open_account(
            session=session,
            owner_type=OwnerType.CUSTOMER,
            owner_id=customer_id,
            asset=Asset.KES,
            kind=AccountKind.WALLET,
        )
        await ledger.transfer(
            session=session,
            idempotency_key=f"test-kes:{customer_id}:{amount}",
            from_account_id=float_account.id,
            to_account_id=wallet.id,
            amount=Money.of(amount, Asset.KES),
            kind="test_funding",
        )


async def kes_wallet(factory: async_sessionmaker[AsyncSession], customer_id: int) -> tuple[Money, Money]:
    """(posted balance, available) of the customer's KES wallet."""
    async with factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session,
            owner_type=OwnerType.CUSTOMER,
            owner_id=customer_id,
            asset=Asset.KES,
            kind=AccountKind.WALLET,
        )
        await session.commit()
        return (
            await ledger.balance(session=session, account_id=wallet.id),
            await ledger.available(session=session, account_id=wallet.id),
        )


async def customer(factory: async_sessionmaker[AsyncSession], customer_id: int) -> Customer:
    async with factory() as session:
        return await identity.get_customer(session=session, customer_id=customer_id)


def paybill_body(trans_id: str, account: str, amount: str) -> dict[str, str]:
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20260310090000",
        "TransAmount": amount,
        "BusinessShortCode": "600000",
        "BillRefNumber": account,
        "MSISDN": "25471****678",
        "FirstName": "Amina",
    }


async def pay_in(session: AsyncSession, trans_id: str, account: str, amount: str) -> str:
    """A paybill payment as M-Pesa delivers it: the confirmation, then (when the payouts package
    waits for Daraja's Transaction Status answer) that answer confirming the same amount."""
    from payouts import c2b

    outcome, _flag = await c2b.confirm(session, paybill_body(trans_id, account, amount))
    if outcome == "pending":
        row = await c2b.pending_payment(session, trans_id)
        assert row is not None
        credit = c2b.credit_confirmed_payment
        outcome, _flag = await credit(session, row, Money.of(amount, Asset.KES), trans_id)
    return outcome
