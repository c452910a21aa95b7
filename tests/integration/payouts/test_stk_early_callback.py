"""An STK callback can overtake the push's own bookkeeping: Daraja's answer (with the
CheckoutRequestID) is read, the customer approves, the callback lands, and only then does the
worker record the id. The callback is stored as unknown_checkout; recording the id applies it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.payments import callbacks as callback_log
from core.payments import collections
from core.payments.models import MpesaCallback, MpesaCollection
from payouts import callbacks

Factory = async_sessionmaker[AsyncSession]
CHECKOUT = "ws_CO_26112026120000000712345678"


def _approved(amount: int) -> dict[str, object]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": CHECKOUT,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                        {"Name": "TransactionDate", "Value": 20261126120102},
                        {"Name": "PhoneNumber", "Value": 254712345678},
                    ]
                },
            }
        }
    }


async def test_a_callback_that_overtook_the_push_is_applied_once_the_id_is_recorded(
    session_factory: Factory,
) -> None:
    async with session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=5, asset=Asset.KES
        )
        collection = await collections.create_collection(
            session=session, idempotency_key="buy-early", customer_id=5, account_id=wallet.id,
            phone="+254712345678", amount=Money.of(250, Asset.KES), reference="KBT1",
        )  # fmt: skip
        stored = await callback_log.record(
            session=session, kind="stk", body=_approved(250), raw="{}", reference=CHECKOUT
        )
        await session.commit()
        collection_id, callback_id, wallet_id = collection.id, stored.id, wallet.id

    assert await callbacks.process(session_factory, callback_id) == "unknown_checkout"  # too early
    async with session_factory() as session:
        await collections.mark_requested(
            session=session, collection_id=collection_id, checkout_request_id=CHECKOUT,
            merchant_request_id="29115-34620561-1",
        )  # fmt: skip
        await session.commit()

    first = await callbacks.replay_early_stk(session_factory, CHECKOUT)
    again = await callbacks.replay_early_stk(session_factory, CHECKOUT)  # a rerun of the push job
    assert again == [] and first == ["confirming"], first
    async with session_factory() as session:
        row = await session.get(MpesaCollection, collection_id)
        callback = await session.get(MpesaCallback, callback_id)
        assert row is not None and row.status == "confirming", row and row.status
        assert callback is not None and callback.processed and not callback.flagged
        # a callback is a claim: nothing is spendable before our STK Query confirms it
        assert await ledger.balance(session=session, account_id=wallet_id) == Money.zero(Asset.KES)
        staged = (await session.execute(select(OutboxJob.job, OutboxJob.kwargs))).all()
    assert ("payouts.jobs.confirm_stk", {"collection_id": collection_id}) in [tuple(r) for r in staged]
