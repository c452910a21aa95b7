"""Invoice use cases across services: pay an invoice by M-Pesa (an STK push through the existing
collection path, crediting the invoice's own KES account), and the expiry sweep."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.invoices import service
from core.invoices.errors import InvoiceNotPayable
from core.invoices.models import OWNER_TYPE, InvoiceStatus, PaymentSource, PaymentStatus
from core.ledger.models import Account
from core.money import Asset, Money
from core.payments import collections
from core.payments.models import MpesaCollection


@dataclass(frozen=True)
class MpesaRequest:
    collection_id: int
    amount: Money  # whole shillings
    phone: str


async def pay_by_mpesa(
    *, session: AsyncSession, invoice_id: str, phone: str, clock: Clock, idempotency_key: str = ""
) -> MpesaRequest:
    """Ask the payer's phone for the invoice's remaining KES (whole shillings, rounded up) by STK
    push, in the caller's transaction; the confirmed payment credits the invoice's KES account
    (core.payments.collections -> collection_paid). Refused for an invoice that takes no payment."""
    found = await service.get_invoice(session=session, invoice_id=invoice_id, clock=clock)
    if found.status != InvoiceStatus.NEW.value:
        raise InvoiceNotPayable(f"invoice {found.public_id} is {found.status}: it takes no new payment")
    kes = found.method(Asset.KES)
    if kes is None or kes.remaining.minor <= 0:
        raise InvoiceNotPayable(f"invoice {found.public_id} has nothing left to pay by M-Pesa")
    amount = Money.of(math.ceil(kes.remaining.amount), Asset.KES)
    account_id = await service.invoice_account_id(
        session=session, invoice_id=found.invoice.id, asset=Asset.KES
    )
    row = await collections.create_collection(
        session=session,
        idempotency_key=idempotency_key or f"invoice:{found.public_id}:{secrets.token_hex(6)}",
        customer_id=0,  # the payer need not be a Kibeti customer
        account_id=account_id,
        phone=phone,
        amount=amount,
        reference=found.public_id[:12],
    )
    return MpesaRequest(collection_id=row.id, amount=amount, phone=row.phone)


async def collection_paid(*, session: AsyncSession, collection: MpesaCollection, now: datetime) -> None:
    """An STK collection Daraja confirmed was credited: when its account is an invoice's, that
    invoice has a confirmed KES payment (called in the crediting transaction)."""
    account = await session.get(Account, collection.account_id)
    if account is None or account.owner_type != OWNER_TYPE:
        return
    await service.record_payment(
        session=session,
        invoice_id=account.owner_id,
        source=PaymentSource.MPESA,
        asset=Asset.KES,
        reference=collection.receipt or collection.checkout_request_id or f"collection:{collection.id}",
        amount_minor=collection.amount_minor,
        status=PaymentStatus.CONFIRMED,
        entry_id=str(collection.entry_id or ""),
        now=now,
        seen_at=collection.created_at,  # the payer asked to pay then: late only if asked after expiry
    )


async def expire_due(*, session: AsyncSession, clock: Clock) -> int:
    return await service.expire_due(session=session, now=clock.now())
