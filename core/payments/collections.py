"""STK push collections: the request row and its outbox job; a callback, confirmed by our own STK
Query, then credits the wallet once.

Correlation is on CheckoutRequestID (AccountReference is not echoed back). A callback only moves the
collection to `confirming` (pending, visible, not spendable); the STK Query answer decides. The
callback's amount and phone must match the request, or the collection is flagged for staff and
nothing is credited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.money import Asset, Money
from core.outbox import service as outbox
from core.payments import confirmed, limits
from core.payments.errors import PaymentConflict, UnknownCollection
from core.payments.models import FINAL_COLLECTION, CollectionStatus, MpesaCollection

STK_JOB = "payouts.jobs.request_stk_push"
CONFIRM_JOB = "payouts.jobs.confirm_stk"
QUEUE = "payouts"


async def create_collection(
    *,
    session: AsyncSession,
    idempotency_key: str,
    customer_id: int,
    account_id: int,
    phone: str,
    amount: Money,
    reference: str = "",
) -> MpesaCollection:
    """Write the STK request and stage its job in the caller's transaction (no commit)."""
    amount = limits.collection_amount(amount)
    msisdn = limits.msisdn(phone)
    existing = (
        await session.execute(
            select(MpesaCollection).where(MpesaCollection.idempotency_key == idempotency_key)
        )
    ).scalar_one_or_none()
    if existing is not None:
        if (existing.account_id, existing.phone, existing.amount_minor) != (account_id, msisdn, amount.minor):
            raise PaymentConflict(f"idempotency key {idempotency_key!r} was used for another payment request")
        return existing
    now = clock_of(session).now()
    row = MpesaCollection(
        idempotency_key=idempotency_key,
        customer_id=customer_id,
        account_id=account_id,
        phone=msisdn,
        amount_minor=amount.minor,
        reference=(reference or "KIBETI")[:12],
        status=CollectionStatus.CREATED.value,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    await outbox.enqueue(
        session=session,
        job=STK_JOB,
        kwargs={"collection_id": row.id},
        dedupe_key=f"stk:{row.id}",
        queue=QUEUE,
    )
    return row


async def get_collection(*, session: AsyncSession, collection_id: int, lock: bool = False) -> MpesaCollection:
    query = select(MpesaCollection).where(MpesaCollection.id == collection_id)
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        raise UnknownCollection(f"no collection {collection_id}")
    return row


async def claim_for_push(*, session: AsyncSession, collection_id: int) -> MpesaCollection | None:
    """created -> requesting. Anything else: already pushed (or a crashed push): never push twice."""
    row = await get_collection(session=session, collection_id=collection_id, lock=True)
    if row.status != CollectionStatus.CREATED.value:
        return None
    row.status, row.updated_at = CollectionStatus.REQUESTING.value, clock_of(session).now()
    return row


async def release_unpushed(*, session: AsyncSession, collection_id: int, reason: str) -> None:
    await session.execute(
        update(MpesaCollection)
        .where(
            MpesaCollection.id == collection_id, MpesaCollection.status == CollectionStatus.REQUESTING.value
        )
        .values(
            status=CollectionStatus.CREATED.value,
            result_desc=reason[:255],
            updated_at=clock_of(session).now(),
        )
        .execution_options(synchronize_session=False)
    )


async def mark_requested(
    *, session: AsyncSession, collection_id: int, checkout_request_id: str, merchant_request_id: str
) -> None:
    row = await get_collection(session=session, collection_id=collection_id, lock=True)
    row.checkout_request_id = checkout_request_id
    row.merchant_request_id = merchant_request_id
    if row.status == CollectionStatus.REQUESTING.value:
        row.status, row.updated_at = CollectionStatus.REQUESTED.value, clock_of(session).now()


async def fail_collection(
    *, session: AsyncSession, collection_id: int, result_code: str, reason: str
) -> None:
    row = await get_collection(session=session, collection_id=collection_id, lock=True)
    if row.status not in FINAL_COLLECTION:
        row.status, row.result_code, row.result_desc = (
            CollectionStatus.FAILED.value,
            result_code,
            reason[:255],
        )
        row.updated_at = clock_of(session).now()


async def knows_checkout(*, session: AsyncSession, checkout_request_id: str) -> bool:
    """Whether a collection has recorded this CheckoutRequestID."""
    query = select(MpesaCollection.id).where(MpesaCollection.checkout_request_id == checkout_request_id)
    return (await session.execute(query)).first() is not None


async def note_stk_callback(
    *,
    session: AsyncSession,
    checkout_request_id: str,
    result_code: str,
    result_desc: str,
    amount: Decimal | None,
    receipt: str,
    phone: str,
    raw: object,
) -> str:
    """An STK callback is a claim (anyone with the path token can send one): nothing is credited or
    failed on it. The collection waits as `confirming` and our STK Query is staged
    (payouts.jobs.confirm_stk); its answer is applied by `apply_stk_callback`. A success claim that
    disagrees with the request is flagged for staff at once, and never credited."""
    query = select(MpesaCollection).where(MpesaCollection.checkout_request_id == checkout_request_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        return "unknown_checkout"
    if row.status in FINAL_COLLECTION or row.status == CollectionStatus.CONFIRMING.value:
        return "duplicate"
    row.raw_callback = raw if isinstance(raw, dict) else {"raw": raw}
    row.updated_at = clock_of(session).now()
    if result_code == "0":
        problem = _mismatch(row, amount, phone)
        if problem:
            row.status, row.flag_reason = CollectionStatus.FLAGGED.value, problem
            row.result_code, row.result_desc = result_code, result_desc[:255]
            return "flagged"
        row.receipt = receipt[:32] or None  # STK Query does not report the receipt: kept from here
    row.status = CollectionStatus.CONFIRMING.value
    await outbox.enqueue(
        session=session,
        job=CONFIRM_JOB,
        kwargs={"collection_id": row.id},
        dedupe_key=f"stk-confirm:{row.id}",
        queue=QUEUE,
    )
    return "confirming"


async def apply_stk_callback(
    *,
    session: AsyncSession,
    checkout_request_id: str,
    result_code: str,
    result_desc: str,
    amount: Decimal | None,
    receipt: str,
    phone: str,
    raw: object,
) -> str:
    """Apply an STK outcome Daraja confirmed (our STK Query's answer; never a callback's word):
    credit the customer once per CheckoutRequestID, through core.payments.confirmed; flag on any
    disagreement with the request."""
    query = select(MpesaCollection).where(MpesaCollection.checkout_request_id == checkout_request_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        return "unknown_checkout"
    if row.status in FINAL_COLLECTION:
        return "duplicate"
    if row.raw_callback is None:
        row.raw_callback = raw if isinstance(raw, dict) else {"raw": raw}
    row.result_code, row.result_desc, row.updated_at = result_code, result_desc[:255], clock_of(session).now()
    if result_code != "0":
        row.status = CollectionStatus.FAILED.value
        return "failed"
    receipt = receipt or row.receipt or ""
    row.receipt = receipt or None
    problem = _mismatch(row, amount, phone)
    if problem:
        row.status, row.flag_reason = CollectionStatus.FLAGGED.value, problem
        return "flagged"
    money = Money.from_minor(row.amount_minor, Asset.KES)
    entry = await confirmed.credit_confirmed_mpesa(
        session=session,
        idempotency_key=f"stk:{checkout_request_id}",
        kind="mpesa_collection",
        account_id=row.account_id,
        amount=money,
        memo=f"M-Pesa {receipt}",
        details={"collection_id": row.id, "receipt": receipt},
    )
    row.entry_id, row.status = entry.entry_id, CollectionStatus.SUCCEEDED.value
    from core.invoices.flows import collection_paid  # invoices use collections: imported late

    await collection_paid(
        session=session, collection=row, now=clock_of(session).now()
    )  # an invoice's M-Pesa payment
    return "succeeded"


def _mismatch(row: MpesaCollection, amount: Decimal | None, phone: str) -> str:
    if amount is None or amount * 100 != row.amount_minor:
        return f"callback amount {amount} differs from the requested {Decimal(row.amount_minor) / 100}"
    if phone and phone != row.phone:
        return "callback phone differs from the requested phone"
    return ""


async def pending_collections(
    *, session: AsyncSession, older_than: datetime, limit: int = 200
) -> list[MpesaCollection]:
    query = (
        select(MpesaCollection)
        .where(
            MpesaCollection.status.in_(
                [
                    CollectionStatus.REQUESTED.value,
                    CollectionStatus.REQUESTING.value,
                    CollectionStatus.CONFIRMING.value,
                ]
            ),
            MpesaCollection.updated_at < older_than,
        )
        .order_by(MpesaCollection.updated_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())
