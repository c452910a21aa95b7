"""Jobs of the customer use cases (module-level, ids in, idempotent)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from core import runtime
from core.clock import FixedClock
from core.errors import KibetiError
from core.flows import accounts, claims, trading
from core.flows.service import CoreFlows
from core.identity import service as identity
from core.identity.models import Customer
from core.ledger import service as ledger
from core.money import Asset, Money, format_money
from core.outbox import service as outbox
from core.payments import collections as mpesa_collections
from core.payments import service as payments
from core.payments.models import FINAL_COLLECTION, CollectionStatus, PayoutStatus
from core.quotes import service as quotes

log = logging.getLogger(__name__)
WAIT_SECONDS = 20.0
POLL_SECONDS = 1.0


class BuyNotFinished(KibetiError):
    """The M-Pesa collection has no final status yet: the job runs again later."""

    code = "buy_pending"


async def complete_buy(
    collection_id: int, quote_id: int, accepted_at: str, idempotency_key: str, outbox_id: int | None = None
) -> str:
    """After the STK push: execute the buy quote at the rate locked when the customer confirmed.

    Args:
        collection_id: the M-Pesa collection that funds the purchase.
        quote_id: the buy quote the customer accepted with their PIN.
        accepted_at: when they accepted it (ISO 8601); the quote is executed as of that moment.
        idempotency_key: the channel's key for the purchase.
        outbox_id: set when the outbox relay calls the job directly; the row is marked done here.

    Returns:
        "bought", "failed" or "already".
    """
    rt = runtime.get()
    flows = CoreFlows(rt)
    await _wait_for_final(rt, collection_id)
    async with rt.session_factory() as session:
        collection = await mpesa_collections.get_collection(session=session, collection_id=collection_id)
        status = collection.status
        if status not in FINAL_COLLECTION:
            raise BuyNotFinished(f"collection {collection_id} is {status}")
        customer = await identity.get_customer(session=session, customer_id=collection.customer_id or 0)
        outcome = "failed"
        receipt = got = ""
        if status == CollectionStatus.SUCCEEDED.value:
            row = await quotes.get_quote(session=session, quote_id=quote_id)
            asset = Asset(row.asset)
            execution = await quotes.execute_quote(
                session=session,
                quote_id=quote_id,
                pay_account_id=collection.account_id,
                receive_account_id=await accounts.wallet_account_id(session, customer.id, asset),
                idempotency_key=f"{idempotency_key}:execute",
                clock=FixedClock(datetime.fromisoformat(accepted_at)),
            )
            outcome = "already" if execution.replayed else "bought"
            got = trading.on_network(Money.from_minor(row.receive_minor, asset), customer.language)
            receipt = collection.receipt or f"C{collection_id}"
        if outbox_id is not None:
            await outbox.mark_done(session=session, outbox_id=outbox_id)
        await session.commit()
    if outcome == "bought":
        await flows.notify(phone=customer.phone, code="sms.buy_receipt", language=customer.language,
                           reference=f"{idempotency_key}:receipt", amount=got, ref=receipt)  # fmt: skip
    elif outcome == "failed":
        await flows.notify(phone=customer.phone, code="sms.buy_failed", language=customer.language,
                           reference=f"{idempotency_key}:failed")  # fmt: skip
    return outcome


@outbox.marks_row_done
async def payout_finished(payout_id: str, outbox_id: int | None = None) -> str:
    """A customer's M-Pesa payout (a sell) reached its final status: text them the receipt or the refund.

    Staged by core.payments once per payout; the SMS reference is fixed per payout, so a rerun sends
    nothing new (the outbox runner calls it without reading its row first: every run is safe).
    Returns "paid", "failed" or "skipped" (no customer to tell, or not final).
    """
    rt = runtime.get()
    flows = CoreFlows(rt)
    final = (PayoutStatus.SUCCEEDED.value, PayoutStatus.FAILED.value)
    async with rt.session_factory() as session:
        payout = await payments.get_payout(session=session, payout_id=payout_id)
        customer = None
        if payout.customer_id is not None and payout.status in final:
            customer = await session.get(Customer, payout.customer_id)
            if customer is None:  # nobody to text: not worth a retry
                log.warning("payout %s finished for unknown customer %s", payout_id, payout.customer_id)
        outcome, values = "skipped", {}
        if customer is not None:
            amount = Money.from_minor(payout.amount_minor, Asset.KES)
            values["amount"] = format_money(amount, customer.language)
            outcome = "paid" if payout.status == PayoutStatus.SUCCEEDED.value else "failed"
            if outcome == "failed":  # the principal and the fee, both back in the wallet
                values["back"] = format_money(payments.returned_on_failure(payout), customer.language)
            if outcome == "paid":
                balance = await ledger.balance(session=session, account_id=payout.account_id)
                values["balance"] = format_money(balance, customer.language)
                values["ref"] = payout.receipt or payout.id[:12]  # else the Kibeti reference the sell showed
        refused = payout.status == PayoutStatus.FAILED.value
        reference = payout.idempotency_key
        compliance = rt.compliance if refused else None
        done_in_read = outbox_id is not None and compliance is None and customer is None
        if done_in_read and outbox_id is not None:  # nothing else to do: done in the read's transaction
            await outbox.mark_done(session=session, outbox_id=outbox_id)
            await session.commit()
    if compliance is not None:
        # nothing left the wallet: the movement stops counting against the customer's limits
        # (the gate writes in its own session: this job's read session is closed first, for SQLite)
        await compliance.reverse(reference=reference)
    if customer is not None:
        code = "sms.sell_receipt" if outcome == "paid" else "sms.payout_failed_refunded"
        await flows.notify(
            phone=customer.phone, code=code, language=customer.language,
            reference=f"payout-finished-{payout_id}", **values,
        )  # fmt: skip
    if outbox_id is not None and not done_in_read:
        # last: a process that dies before this leaves the row for a rerun, which repeats the steps
        # above idempotently (the reversal by its reference, the SMS by its fixed reference)
        await outbox.finish(session_factory=rt.session_factory, outbox_id=outbox_id)
    return outcome


async def deposit_credited(customer_id: int, asset: str, amount_minor: int, txid: str) -> str:
    """A chain deposit was credited to a customer's wallet: text them. Staged by the deposit monitor
    in the crediting transaction; the SMS reference is fixed per transaction, so a rerun sends nothing."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        customer = await session.get(Customer, customer_id)
    if customer is None:
        return "skipped"
    amount = Money.from_minor(amount_minor, Asset(asset))
    await CoreFlows(rt).notify(
        phone=customer.phone, code="sms.deposit_credited", language=customer.language,
        reference=f"deposit-credited-{asset}-{txid}", amount=format_money(amount, customer.language),
        asset=asset, ref=txid[:12],
    )  # fmt: skip
    return "sent"


async def paybill_credited(customer_id: int, amount_minor: int, trans_id: str) -> str:
    """An M-Pesa paybill payment was credited to a customer's KES wallet: text them the receipt."""
    rt = runtime.get()
    async with rt.session_factory() as session:
        customer = await session.get(Customer, customer_id)
        balance = None
        if customer is not None:
            account_id = await accounts.wallet_account_id(session, customer_id, Asset.KES)
            balance = await ledger.balance(session=session, account_id=account_id)
            await session.commit()  # the KES wallet may have just been opened
    if customer is None or balance is None:
        return "skipped"
    language = customer.language
    await CoreFlows(rt).notify(
        phone=customer.phone, code="sms.paybill_received", language=language,
        reference=f"paybill-credited-{trans_id}", ref=trans_id,
        amount=format_money(Money.from_minor(amount_minor, Asset.KES), language),
        balance=format_money(balance, language),
    )  # fmt: skip
    return "sent"


async def _wait_for_final(rt: runtime.Runtime, collection_id: int) -> None:
    """Give the customer a moment to approve the prompt, so the crypto (and its SMS) follow within
    seconds; after WAIT_SECONDS the job raises and the outbox runs it again later."""
    for _ in range(int(WAIT_SECONDS / POLL_SECONDS)):
        async with rt.session_factory() as session:
            collection = await mpesa_collections.get_collection(session=session, collection_id=collection_id)
            if collection.status in FINAL_COLLECTION:
                return
        await asyncio.sleep(POLL_SECONDS)


async def return_expired_claims(outbox_id: int | None = None) -> int:
    """Give unclaimed sends back to their senders once the claim window has closed."""
    rt = runtime.get()
    flows = CoreFlows(rt)
    returned = 0
    async with rt.session_factory() as session:
        for claim in await claims.expired(session, clock=rt.clock):
            amount = await claims.give_back(session, claim, clock=rt.clock)
            sender = await identity.get_customer(session=session, customer_id=claim.sender_id)
            await session.commit()
            returned += 1
            await flows.notify(
                phone=sender.phone, code="sms.claim_returned", language=sender.language,
                reference=f"claim:{claim.id}:returned", amount=format_money(amount, sender.language),
                recipient=claim.phone,
            )  # fmt: skip
        if outbox_id is not None:
            await outbox.mark_done(session=session, outbox_id=outbox_id)
            await session.commit()
    return returned
