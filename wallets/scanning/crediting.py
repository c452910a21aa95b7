"""Book confirmed deposits in the ledger: debit custody, credit the owner's wallet (or suspense).

Exactly once per (network, txid, index): the ledger entry's idempotency key is derived from it,
and the deposit row's status changes in the same transaction.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.inbound import service as inbound
from core.ledger import service as ledger
from core.ledger.types import AccountKind, OwnerType, PostingRequest
from core.money import Money
from wallets.models import ChainDeposit
from wallets.networks import Network

LEDGER_OWNERS = {OwnerType.CUSTOMER.value, OwnerType.MERCHANT.value, OwnerType.INVOICE.value}


def deposit_key(network: Network, txid: str, index: int) -> str:
    return f"deposit:{network.value}:{txid}:{index}"


async def book_deposit(
    *,
    session: AsyncSession,
    network: Network,
    deposit: ChainDeposit,
    owner_type: str | None,
    owner_id: int | None,
) -> int:
    """Post custody -> wallet (or -> suspense when no ledger owner); returns the entry id."""
    asset = network.asset
    if deposit.amount_minor is None:
        raise ValueError("a deposit without an amount in our asset cannot be booked")
    amount = Money.from_minor(deposit.amount_minor, asset)
    custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=asset)
    if owner_type in LEDGER_OWNERS and owner_id is not None and not deposit.reason:
        target = await ledger.get_or_open_account(
            session=session, owner_type=owner_type, owner_id=owner_id, asset=asset, kind=AccountKind.WALLET
        )
        kind, memo = "deposit", f"{asset.value} deposit"
    else:
        target = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=asset)
        kind, memo = "deposit_suspense", f"{asset.value} deposit to suspense ({deposit.reason or 'no owner'})"
    key = deposit_key(network, deposit.txid, deposit.log_index)
    result = await ledger.post_entry(
        session=session,
        idempotency_key=key,
        kind=kind,
        postings=[PostingRequest(custody.id, -amount), PostingRequest(target.id, amount)],
        memo=memo,
        details={
            "network": network.value,
            "txid": deposit.txid,
            "index": deposit.log_index,
            "address": deposit.address,
            "block_height": deposit.block_height,
        },
    )
    if (
        kind == "deposit"
        and owner_type == OwnerType.CUSTOMER.value
        and owner_id is not None
        and not result.replayed
    ):
        await inbound.credit_arrived(  # limits apply to money coming in too: over one, it is held
            session=session, customer_id=owner_id, account_id=target.id, amount=amount,
            kind=inbound.DEPOSIT, counterparty="", reference=key,
        )  # fmt: skip
    return result.entry_id
