"""A merchant invoice paid on a hosted rail (PesaPal: card or Airtel Money), beside M-Pesa's STK push.

The order credits the invoice's own KES account (never a customer's) once PesaPal's status query
confirms it; the invoice then records a confirmed payment with the rail as its source, so the
merchant dashboard shows how each payment came in.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.invoices import service as invoices
from core.invoices.errors import InvoiceNotPayable
from core.invoices.models import InvoiceStatus, PaymentSource, PaymentStatus
from core.ledger.models import Account
from core.money import Asset, Money
from core.rails import service
from core.rails.models import RailOrder

PURPOSE = "invoice"


async def pay_invoice_by_link(
    *, session: AsyncSession, invoice_id: str, phone: str, rail: str, clock: Clock, idempotency_key: str = ""
) -> RailOrder:
    """An order for the invoice's remaining KES (whole shillings, rounded up, as M-Pesa's), in the
    caller's transaction; its submit job gets PesaPal's page, reached through the order's /p/<code>."""
    found = await invoices.get_invoice(session=session, invoice_id=invoice_id, clock=clock)
    if found.status != InvoiceStatus.NEW.value:
        raise InvoiceNotPayable(f"invoice {found.public_id} is {found.status}: it takes no new payment")
    kes = found.method(Asset.KES)
    if kes is None or kes.remaining.minor <= 0:
        raise InvoiceNotPayable(f"invoice {found.public_id} has nothing left to pay in KES")
    amount = Money.of(math.ceil(kes.remaining.amount), Asset.KES)
    account_id = await invoices.invoice_account_id(
        session=session, invoice_id=found.invoice.id, asset=Asset.KES
    )
    return await service.create_order(
        session=session, rail=rail, purpose=PURPOSE,
        idempotency_key=idempotency_key or f"invoice:{found.public_id}:{secrets.token_hex(6)}",
        customer_id=0, account_id=account_id, phone=phone, amount=amount,
    )  # fmt: skip


async def order_paid(*, session: AsyncSession, order: RailOrder, now: datetime) -> None:
    """The order was credited to its invoice's KES account: the invoice has a confirmed payment."""
    account = await session.get(Account, order.account_id)
    if account is None:
        return
    await invoices.record_payment(
        session=session,
        invoice_id=account.owner_id,
        source=PaymentSource(order.rail),
        asset=Asset.KES,
        reference=order.confirmation or order.merchant_reference,
        amount_minor=order.amount_minor,
        status=PaymentStatus.CONFIRMED,
        entry_id=str(order.entry_id or ""),
        now=now,
        seen_at=order.created_at,  # asked to pay then: late only if asked after the invoice expired
    )
