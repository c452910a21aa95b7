"""M-Pesa paybill (C2B) payments: the account number the payer types names the wallet to top up.

A customer types their own phone number in any common form (0712..., 254712..., +254712...) or
their customer number. Validation (when Safaricom has it enabled for the shortcode) refuses an
unknown account or an amount outside M-Pesa's limits, so the money never leaves the payer.

A confirmation is only a claim (anyone with the path token can send one): it is recorded as a
pending payment, once per TransID, and our own Transaction Status query for that TransID is staged.
Its asynchronous result, matched on the ConversationID Daraja gave OUR query, decides: completed ->
the amount Daraja reports is booked once, to the wallet, or to suspense and flagged for staff when
it cannot be matched; anything else books nothing and is flagged. The payer's MSISDN is masked in
C2B bodies (PROTOCOLS.md 1.6), so it is kept for staff only, never used as a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.identity import service as identity
from core.identity.errors import CustomerNotFound, InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.identity.types import CustomerStatus
from core.inbound import service as inbound
from core.ledger import queries as ledger_queries
from core.ledger import service as ledger
from core.ledger.types import AccountKind, OwnerType
from core.money import Asset, Money
from core.outbox import service as outbox
from core.payments import confirmed, limits, paybill
from core.payments.types import C2BStatus
from payouts.mpesa import wire

ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}
INVALID_ACCOUNT = "C2B00012"
INVALID_AMOUNT = "C2B00013"
OTHER = "C2B00016"
REJECTED_PREFIX = "rejected "
REJECT_REASONS = {
    "C2B00011": "Invalid MSISDN",
    INVALID_ACCOUNT: "Invalid Account Number",
    INVALID_AMOUNT: "Invalid Amount",
    "C2B00014": "Invalid KYC Details",
    "C2B00015": "Invalid Shortcode",
    OTHER: "Other Error",
}
LEDGER_KIND = "mpesa_c2b"
RECEIPT_JOB = "core.flows.jobs.paybill_credited"
CONFIRM_JOB = "payouts.jobs.confirm_c2b"
QUEUE = "payouts"
SUSPENSE_KIND = "mpesa_c2b_suspense"
_MAX_CUSTOMER_NUMBER = 2**31 - 1
CENT = Decimal("0.01")
_ABSURD_KES = Decimal(10**9)  # no paybill moves this much: a corrupt body, not money to book


@dataclass(frozen=True)
class Payment:
    trans_id: str
    amount: Decimal
    reference: str
    payer: str  # masked by Safaricom, e.g. 25470****149
    shortcode: str


def parse(body: object) -> Payment:
    """A validation or confirmation body (same shape); MalformedCallback when unusable."""
    if not isinstance(body, dict):
        raise wire.MalformedCallback("a C2B body must be a JSON object")
    trans_id = body.get("TransID")
    if not (isinstance(trans_id, str) and trans_id.isascii() and trans_id.isalnum() and len(trans_id) <= 40):
        raise wire.MalformedCallback("missing or invalid TransID")
    amount = wire.to_decimal(body.get("TransAmount"))
    if amount is None or not amount.is_finite() or amount <= 0 or amount > _ABSURD_KES:
        raise wire.MalformedCallback("missing or invalid TransAmount")
    if amount != amount.quantize(CENT):
        raise wire.MalformedCallback("TransAmount has more than two decimals")
    return Payment(
        trans_id=trans_id,
        amount=amount,
        reference=_text(body.get("BillRefNumber"), 40),
        payer=_text(body.get("MSISDN"), 20),
        shortcode=str(body.get("BusinessShortCode") or "")[:12],
    )


def _text(value: object, limit: int) -> str:
    """A body field as text we can store (PostgreSQL text holds no NUL: replaced, as in the raw row)."""
    return str(value or "").replace("\x00", "\ufffd").strip()[:limit]


def amount_problem(amount: Decimal) -> str:
    """Why M-Pesa could not have moved this amount by paybill ("" when it could)."""
    if amount != amount.to_integral_value():
        return f"KES {amount} is not whole shillings"
    if not limits.STK_MIN.amount <= amount <= limits.TXN_MAX.amount:
        return f"KES {amount} is outside M-Pesa's KES 1 to KES 250,000 per payment"
    return ""


async def find_customer(session: AsyncSession, reference: str) -> Any:
    """The customer an account reference names: their phone number in any form, else their number."""
    try:
        phone = normalize_phone(reference)
    except InvalidPhoneNumber:
        phone = ""
    if phone:
        found = await identity.get_customer_by_phone(session=session, phone=phone)
        if found is not None:
            return found
    number = customer_number(reference)
    if number is None:
        return None
    try:
        return await identity.get_customer(session=session, customer_id=number)
    except CustomerNotFound:
        return None


def customer_number(reference: str) -> int | None:
    """A customer number typed as the account ("42"); None for anything else (int() takes "²" or
    "４２" too, and a number past the id column's range would fail the query)."""
    if not (reference.isascii() and reference.isdigit()) or len(reference) > 10:
        return None
    number = int(reference)
    return number if number <= _MAX_CUSTOMER_NUMBER else None


async def validate(session: AsyncSession, body: object) -> str:
    """The validation decision as a callback outcome: "accepted" or "rejected <C2B code>"."""
    amount = wire.to_decimal(body.get("TransAmount")) if isinstance(body, dict) else None
    if amount is None or not amount.is_finite() or amount <= 0 or amount_problem(amount):
        return REJECTED_PREFIX + INVALID_AMOUNT
    payment = parse(body)
    customer = await find_customer(session, payment.reference)
    if customer is None and await _legacy_wallet(session, payment.reference) is None:
        return REJECTED_PREFIX + INVALID_ACCOUNT
    if customer is not None and customer.status != CustomerStatus.ACTIVE.value:
        return REJECTED_PREFIX + INVALID_ACCOUNT
    return "accepted"


def validation_reply(outcome: str) -> dict[str, str]:
    """Daraja's answer for a validation outcome; anything we could not decide is refused (C2B00016):
    refused, the payer keeps the money; accepted blindly, it could only end in suspense."""
    if outcome == "accepted":
        return dict(ACCEPT)
    code = outcome.removeprefix(REJECTED_PREFIX)
    return {"ResultCode": code if code in REJECT_REASONS else OTHER, "ResultDesc": "Rejected"}


async def confirm(session: AsyncSession, body: object) -> tuple[str, str]:
    """A confirmation is a claim, not money: record the payment as pending (once per TransID) and
    stage our own Transaction Status query. Only its answer books anything (`apply_paybill_status`).
    Returns (outcome, flag reason or "")."""
    payment = parse(body)
    existing = await paybill.find_payment(session=session, trans_id=payment.trans_id)
    if existing is not None or await paybill.is_booked(
        session=session, idempotency_key=f"c2b:{payment.trans_id}"
    ):
        if existing is not None and existing.claimed_minor != Money.of(payment.amount, Asset.KES).minor:
            claimed = Money.from_minor(existing.claimed_minor, Asset.KES).amount
            return (
                "duplicate",
                f"paybill {payment.trans_id}: KES {payment.amount} claimed, earlier KES {claimed}",
            )
        return "duplicate", ""
    customer = await find_customer(session, payment.reference)
    recorded = await paybill.record_claim(  # a concurrent delivery of the same TransID may win
        session=session,
        trans_id=payment.trans_id,
        claimed_minor=Money.of(payment.amount, Asset.KES).minor,
        bill_ref=payment.reference,
        payer=payment.payer,
        shortcode=payment.shortcode,
        customer_id=customer.id if customer is not None else None,
    )
    if not recorded:
        return "duplicate", ""
    await stage_query(session, payment.trans_id, attempt=0)
    return "pending", ""


async def stage_query(session: AsyncSession, trans_id: str, *, attempt: int) -> None:
    """Stage our Transaction Status query for a pending payment (payouts.jobs.confirm_c2b)."""
    await outbox.enqueue(
        session=session,
        job=CONFIRM_JOB,
        kwargs={"trans_id": trans_id},
        dedupe_key=f"c2b-confirm:{trans_id}:{attempt}",
        queue=QUEUE,
    )


async def pending_payment(session: AsyncSession, trans_id: str) -> Any:
    """The payment (core.payments.paybill), if it is still waiting for Daraja's word."""
    row = await paybill.find_payment(session=session, trans_id=trans_id)
    return row if row is not None and row.status == C2BStatus.PENDING.value else None


async def record_query(
    session: AsyncSession, *, trans_id: str, originator_id: str, conversation_id: str
) -> None:
    """Our query went out: its result will be matched on this ConversationID, and nothing else."""
    row = await paybill.find_payment(session=session, trans_id=trans_id, lock=True)
    if row is None or row.status != C2BStatus.PENDING.value:
        return
    row.query_originator_id, row.query_conversation_id = originator_id[:64], conversation_id[:64]
    row.queries += 1
    row.updated_at = clock_of(session).now()


async def stale_payments(session: AsyncSession, *, older_than: datetime, limit: int = 200) -> list[str]:
    """TransIDs still pending since `older_than` (the reconciler queries them again)."""
    return await paybill.stale_payments(session=session, older_than=older_than, limit=limit)


async def is_our_query(session: AsyncSession, conversation_id: str) -> bool:
    """Whether `conversation_id` is the one Daraja gave one of our paybill queries."""
    if not conversation_id:
        return False
    return await paybill.is_query(session=session, conversation_id=conversation_id)


async def apply_paybill_status(session: AsyncSession, result: wire.B2CResult) -> tuple[str, str] | None:
    """Daraja's Transaction Status answer to OUR query for a paybill payment, matched on the
    ConversationID our query was given (never on anything else in the body); None when it is not
    one of ours. Completed -> the amount Daraja reports is booked; anything else books nothing."""
    if not result.conversation_id:
        return None
    row = await paybill.payment_for_query(session=session, conversation_id=result.conversation_id)
    if row is None:
        return None
    if row.status != C2BStatus.PENDING.value:
        return "duplicate", ""
    params = result.parameters
    amount = wire.to_decimal(params.get("Amount"))
    receipt = str(params.get("ReceiptNo") or result.transaction_id or "")
    completed = str(params.get("TransactionStatus", "")).strip().lower() == "completed"
    usable = amount is not None and amount.is_finite() and 0 < amount <= _ABSURD_KES
    if not (result.succeeded and completed and receipt == row.trans_id and usable):
        why = f"{result.result_code} {result.result_desc}".strip()
        row.status, row.reason, row.updated_at = (
            C2BStatus.NOT_FOUND.value,
            f"Daraja: {why}"[:255],
            clock_of(session).now(),
        )
        claimed = Money.from_minor(row.claimed_minor, Asset.KES).amount
        return (
            "c2b_not_confirmed",
            f"paybill {row.trans_id} KES {claimed}: not confirmed by M-Pesa ({why}); nothing booked",
        )
    assert amount is not None
    return await credit_confirmed_payment(session, row, Money.of(amount.quantize(CENT), Asset.KES), receipt)


async def credit_confirmed_payment(
    session: AsyncSession, row: Any, amount: Money, receipt: str
) -> tuple[str, str]:
    """Book a paybill payment Daraja confirmed, with Daraja's amount: to the wallet its account names,
    or to suspense (flagged for staff) when it cannot be matched. Once per TransID."""
    payment = Payment(
        trans_id=row.trans_id,
        amount=amount.amount,
        reference=row.bill_ref,
        payer=row.payer,
        shortcode=row.shortcode,
    )
    target, why_suspense = await _target(session, payment)
    if target is None:
        target = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
    details = {"trans_id": payment.trans_id, "bill_ref": payment.reference, "payer": payment.payer}
    if why_suspense:
        details["suspense"] = why_suspense
    result = await confirmed.credit_confirmed_mpesa(
        session=session,
        idempotency_key=f"c2b:{payment.trans_id}",
        kind=SUSPENSE_KIND if why_suspense else LEDGER_KIND,
        account_id=target.id,
        amount=amount,
        memo=f"M-Pesa paybill {payment.trans_id}",
        details=details,
    )
    row.amount_minor, row.receipt, row.entry_id = amount.minor, receipt[:32] or None, result.entry_id
    row.status = C2BStatus.SUSPENSE.value if why_suspense else C2BStatus.CREDITED.value
    row.updated_at = clock_of(session).now()
    differs = ""
    if amount.minor != row.claimed_minor:
        claimed = Money.from_minor(row.claimed_minor, Asset.KES).amount
        differs = f"paybill {payment.trans_id}: claimed KES {claimed}, M-Pesa confirmed KES {amount.amount}"
        row.reason = differs[:255]
    if result.replayed:  # booked before (a concurrent answer won)
        return "duplicate", ""
    if why_suspense:
        flag = f"paybill {payment.trans_id} KES {payment.amount}: {why_suspense}; held in suspense"
        return "suspense", flag
    if target.owner_type == OwnerType.CUSTOMER.value:
        checked = await inbound.credit_arrived(  # limits apply to money coming in too
            session=session, customer_id=target.owner_id, account_id=target.id, amount=amount,
            kind=inbound.TOPUP, counterparty=payment.payer, reference=f"c2b:{payment.trans_id}",
        )  # fmt: skip
        if checked is not None and not checked.allowed:
            return "held", differs  # credited under a hold: compliance raised the review alert and SMS
        await outbox.enqueue(  # the receipt SMS, staged with the booking: sent once per TransID
            session=session,
            job=RECEIPT_JOB,
            kwargs={
                "customer_id": target.owner_id,
                "amount_minor": amount.minor,
                "trans_id": payment.trans_id,
            },
            dedupe_key=f"c2b-receipt:{payment.trans_id}",
        )
    return "credited", differs


async def _target(session: AsyncSession, payment: Payment) -> tuple[Any, str]:
    """The wallet to credit, or (None, why it goes to suspense)."""
    problem = amount_problem(payment.amount)
    if problem:
        return None, problem
    customer = await find_customer(session, payment.reference)
    if customer is None:
        legacy = await _legacy_wallet(session, payment.reference)
        if legacy is not None:
            return legacy, ""
        return None, f"account {payment.reference!r} matches no customer"
    if customer.status != CustomerStatus.ACTIVE.value:
        return None, f"customer {customer.id} is {customer.status}"
    wallet = await ledger.get_or_open_account(
        session=session,
        owner_type=OwnerType.CUSTOMER,
        owner_id=customer.id,
        asset=Asset.KES,
        kind=AccountKind.WALLET,
    )
    return wallet, ""


async def _legacy_wallet(session: AsyncSession, reference: str) -> Any:
    """A KES wallet opened for a customer number (accounts can predate their customer row)."""
    number = customer_number(reference)
    if number is None:
        return None
    wallets = await ledger_queries.customer_wallets(session=session, customer_id=number)
    return next((wallet for wallet in wallets if wallet.asset == Asset.KES.value), None)
