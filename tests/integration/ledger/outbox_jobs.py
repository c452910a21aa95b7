"""Job targets for the outbox tests (module-level, importable by real RQ worker processes)."""

from __future__ import annotations

from core import runtime
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money


async def credit_customer(customer_id: int, amount: str, reference: str) -> None:
    """Idempotent: the ledger key is the reference, so a second delivery posts nothing."""
    current = runtime.get()
    async with current.session_factory() as session:
        source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES)
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer_id, asset=Asset.KES
        )
        money = Money.of(amount, Asset.KES)
        await ledger.post_entry(
            session=session,
            idempotency_key=f"outbox-test-{reference}",
            kind="deposit",
            postings=[PostingRequest(source.id, -money), PostingRequest(wallet.id, money)],
        )
        await session.commit()
