"""Invoice addresses are deposit addresses like any other (owner type "invoice"): the one scanner
detects, confirms and orphans their transfers; these hooks tell the invoice, in the scanner's
transaction, so its payments and state follow the chain exactly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.invoices import service as invoices
from core.invoices.types import OWNER_TYPE, PaymentSource, PaymentStatus
from wallets.models import ChainDeposit, DepositAddress
from wallets.networks import Network
from wallets.scanning.chain import Transfer


def payment_reference(txid: str, index: int) -> str:
    return f"{txid}:{index}"


async def detected(
    *,
    session: AsyncSession,
    network: Network,
    address_id: int,
    transfer: Transfer,
    reason: str,
    now: datetime,
) -> None:
    """A transfer to an invoice address was seen (or seen again after a reorg): a payment, or, for
    another token or a dust amount, a flagged record that is never credited."""
    address = await session.get(DepositAddress, address_id)
    if address is None or address.owner_type != OWNER_TYPE:
        return
    await invoices.record_payment(
        session=session,
        invoice_id=address.owner_id,
        source=PaymentSource.CHAIN,
        asset=network.asset,
        reference=payment_reference(transfer.txid, transfer.index),
        amount_minor=transfer.amount if not reason or reason == "dust" else 0,
        status=PaymentStatus.SEEN,
        reason=reason,
        now=now,
    )


async def credited(
    *,
    session: AsyncSession,
    network: Network,
    owner: tuple[str, int] | None,
    deposit: ChainDeposit,
    now: datetime,
) -> None:
    """The deposit was booked to the invoice's account after its confirmations."""
    if owner is None or owner[0] != OWNER_TYPE or deposit.reason or deposit.amount_minor is None:
        return
    await invoices.record_payment(
        session=session,
        invoice_id=owner[1],
        source=PaymentSource.CHAIN,
        asset=network.asset,
        reference=payment_reference(deposit.txid, deposit.log_index),
        amount_minor=deposit.amount_minor,
        status=PaymentStatus.CONFIRMED,
        entry_id=deposit.entry_id,
        now=now,
    )


async def orphaned(
    *, session: AsyncSession, network: Network, deposit_ids: Iterable[int], now: datetime
) -> None:
    """A reorg undid these detections: the invoice's payments go with them (until seen again)."""
    ids = list(deposit_ids)
    if not ids:
        return
    rows = await session.execute(
        select(ChainDeposit, DepositAddress.owner_id)
        .join(DepositAddress, DepositAddress.id == ChainDeposit.deposit_address_id)
        .where(ChainDeposit.id.in_(ids), DepositAddress.owner_type == OWNER_TYPE, ChainDeposit.reason == "")
        .order_by(ChainDeposit.id)
    )
    for deposit, invoice_id in rows.tuples():
        await invoices.record_payment(
            session=session,
            invoice_id=invoice_id,
            source=PaymentSource.CHAIN,
            asset=network.asset,
            reference=payment_reference(deposit.txid, deposit.log_index),
            amount_minor=deposit.amount_minor or 0,
            status=PaymentStatus.ORPHANED,
            now=now,
        )
