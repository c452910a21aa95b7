"""M-Pesa paybill (C2B) payments: the account number the payer types names the wallet to top up.

A customer types their own phone number in any common form (0712..., 254712..., +254712...) or
their customer number. Validation (when Safaricom has it enabled for the shortcode) refuses an
unknown account or an amount outside M-Pesa's limits, so the money never leaves the payer. A
confirmation is money that has already moved (Daraja sends it even with validation off): it is
never refused or lost but booked once per TransID, to the wallet, or to suspense and flagged for
staff when it cannot be matched. The payer's MSISDN is masked in C2B bodies (PROTOCOLS.md 1.6), so
it is kept for staff only, never used as a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.identity.errors import InvalidPhoneNumber
from core.identity.models import Customer, CustomerStatus
from core.identity.phone import normalize_phone
from core.inbound import service as inbound
from core.ledger import service as ledger
from core.ledger.models import Account, AccountKind, JournalEntry, OwnerType, PostingRequest
from core.money import Asset, Money
from core.outbox import service as outbox
from core.payments import limits
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
        reference=str(body.get("BillRefNumber") or "").strip()[:40],
        payer=str(body.get("MSISDN") or "")[:20],
        shortcode=str(body.get("BusinessShortCode") or "")[:12],
    )


def amount_problem(amount: Decimal) -> str:
    """Why M-Pesa could not have moved this amount by paybill ("" when it could)."""
    if amount != amount.to_integral_value():
        return f"KES {amount} is not whole shillings"
    if not limits.STK_MIN.amount <= amount <= limits.TXN_MAX.amount:
        return f"KES {amount} is outside M-Pesa's KES 1 to KES 250,000 per payment"
    return ""


async def find_customer(session: AsyncSession, reference: str) -> Customer | None:
    """The customer an account reference names: their phone number in any form, else their number."""
    try:
        phone = normalize_phone(reference)
    except InvalidPhoneNumber:
        phone = ""
    if phone:
        query = select(Customer).where(Customer.phone == phone)
        found = (await session.execute(query)).scalar_one_or_none()
        if found is not None:
            return found
    number = customer_number(reference)
    return None if number is None else await session.get(Customer, number)


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
    """Book a confirmed payment once per TransID: (outcome, flag reason or "")."""
    payment = parse(body)
    key = f"c2b:{payment.trans_id}"
    if await _already_booked(session, key):
        return "duplicate", ""
    target, why_suspense = await _target(session, payment)
    money = Money.of(payment.amount, Asset.KES)
    float_account = await ledger.system_account(
        session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
    )
    if target is None:
        target = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
    details = {"trans_id": payment.trans_id, "bill_ref": payment.reference, "payer": payment.payer}
    if why_suspense:
        details["suspense"] = why_suspense
    result = await ledger.post_entry(
        session=session,
        idempotency_key=key,
        kind=SUSPENSE_KIND if why_suspense else LEDGER_KIND,
        postings=[PostingRequest(float_account.id, -money), PostingRequest(target.id, money)],
        memo=f"M-Pesa paybill {payment.trans_id}"[:200],
        details=details,
    )
    if result.replayed:  # a concurrent delivery of the same confirmation won
        return "duplicate", ""
    if why_suspense:
        flag = f"paybill {payment.trans_id} KES {payment.amount}: {why_suspense}; held in suspense"
        return "suspense", flag
    if target.owner_type == OwnerType.CUSTOMER.value:
        checked = await inbound.credit_arrived(  # limits apply to money coming in too
            session=session, customer_id=target.owner_id, account_id=target.id, amount=money,
            kind=inbound.TOPUP, counterparty=payment.payer, reference=key,
        )  # fmt: skip
        if checked is not None and not checked.allowed:
            return "held", ""  # credited under a hold: compliance raised the review alert and SMS
        await outbox.enqueue(  # the receipt SMS, staged with the booking: sent once per TransID
            session=session,
            job=RECEIPT_JOB,
            kwargs={
                "customer_id": target.owner_id,
                "amount_minor": money.minor,
                "trans_id": payment.trans_id,
            },
            dedupe_key=f"c2b-receipt:{payment.trans_id}",
        )
    return "credited", ""


async def _target(session: AsyncSession, payment: Payment) -> tuple[Account | None, str]:
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


async def _legacy_wallet(session: AsyncSession, reference: str) -> Account | None:
    """A KES wallet opened for a customer number (accounts can predate their customer row)."""
    number = customer_number(reference)
    if number is None:
        return None
    query = select(Account).where(
        Account.owner_type == OwnerType.CUSTOMER.value,
        Account.owner_id == number,
        Account.asset == Asset.KES.value,
        Account.kind == AccountKind.WALLET.value,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _already_booked(session: AsyncSession, key: str) -> bool:
    query = select(JournalEntry.id).where(JournalEntry.idempotency_key == key)
    return (await session.execute(query)).first() is not None
