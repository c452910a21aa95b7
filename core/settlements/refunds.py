"""Refunds of a payment a merchant was credited for (an invoice, or a Kibeti payment).

- Paid from a Kibeti wallet: back to that wallet at once, one ledger entry (merchant KES -> wallet).
- Paid in crypto: the merchant's KES goes back to FX liquidity and the payer's share of the crypto
  they paid comes out of it into the merchant's refund wallet (one entry); the payer gets a
  one-time link to enter an address (validated for the network); the existing withdrawal pipeline
  screens it and sends the crypto less the network fee. A failed send gives the merchant its KES back.

Never more than what is left to refund; every movement is a new entry. refund.created and
refund.completed reach the merchant's webhooks in the transaction that makes them true.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.errors import KibetiError
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.money import Asset, Money
from core.ports import ChainGateway
from core.settlements.models import (
    CreditSource,
    MerchantCredit,
    Refund,
    RefundMethod,
    RefundStatus,
)
from core.settlements.service import merchant_account_id
from core.webhooks.events import record_event

LINK_PATH = "/refund/"


class RefundError(KibetiError):
    http_status = 422


class PaymentNotRefundable(RefundError, LookupError):
    """No paid (credited) invoice or payment of this merchant has this reference."""

    code = "invoice_not_paid"
    http_status = 409


class RefundTooLarge(RefundError, ValueError):
    code = "refund_exceeds_paid"


class RefundAmountInvalid(RefundError, ValueError):
    code = "invalid_amount"


class RefundNotFound(RefundError, LookupError):
    code = "refund_not_found"
    http_status = 404


class RefundLinkInvalid(RefundError, LookupError):
    """The link is unknown, or was used already."""

    code = "refund_link_invalid"
    http_status = 404


class RefundBelowNetworkFee(RefundError, ValueError):
    code = "refund_below_network_fee"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public(row: Refund) -> dict[str, Any]:
    return {
        "id": row.public_id, "status": row.status, "method": row.method,
        "amount": f"{row.amount_minor // 100}.{row.amount_minor % 100:02d}", "currency": "KES",
        "asset": row.asset, "address": row.address or None, "reason": row.reason, "failure": row.failure,
        "created_at": row.created_at, "finished_at": row.finished_at,
    }  # fmt: skip


async def _announce(session: AsyncSession, row: Refund, event_type: str) -> None:
    await record_event(
        session, merchant_id=row.merchant_id, event_type=event_type, object_id=row.public_id,
        payload=public(row), idempotency_key=f"{event_type}:{row.public_id}",
    )  # fmt: skip


async def _credit(session: AsyncSession, merchant_id: int, payment: str) -> MerchantCredit:
    query = (
        select(MerchantCredit)
        .where(MerchantCredit.merchant_id == merchant_id, MerchantCredit.reference == payment.strip()[:24])
        .order_by(MerchantCredit.id)
        .limit(1)
    )
    credit = (await session.execute(query)).scalar_one_or_none()
    if credit is None:
        raise PaymentNotRefundable(f"no paid invoice or payment {payment!r}: nothing to refund")
    return credit


async def _to_refund_wallet(
    session: AsyncSession, row: Refund, kes: Money, crypto: Money, merchant_kes: int, *, back: bool = False
) -> int:
    """Merchant KES -> FX liquidity, FX crypto -> the merchant's refund wallet in that asset (one
    linked entry); `back` reverses it (the send failed)."""
    fx_kes = await ledger.system_account(session=session, kind=AccountKind.FX_LIQUIDITY, asset=Asset.KES)
    fx_crypto = await ledger.system_account(
        session=session, kind=AccountKind.FX_LIQUIDITY, asset=crypto.asset
    )
    wallet = await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.MERCHANT, owner_id=row.merchant_id, asset=crypto.asset
    )
    out = not back
    posted = await ledger.post_entry(
        session=session, idempotency_key=f"refund:{row.public_id}:{'out' if out else 'back'}",
        kind="merchant_refund" if out else "merchant_refund_failed",
        postings=[
            PostingRequest(merchant_kes, -kes if out else kes),
            PostingRequest(fx_kes.id, kes if out else -kes),
            PostingRequest(fx_crypto.id, -crypto if out else crypto),
            PostingRequest(wallet.id, crypto if out else -crypto),
        ],
        memo=f"refund {row.public_id}: " + (f"{crypto} for the payer" if out else "failed, KES back"),
        details={"refund_id": row.public_id},
    )  # fmt: skip
    return posted.entry_id


@dataclass(frozen=True)
class Created:
    refund: Refund
    link_token: str | None  # a crypto refund: the payer's one-time link (shown once)
    replayed: bool = False


async def create_refund(
    *,
    session: AsyncSession,
    merchant_id: int,
    payment: str,
    amount: Money | None,
    idempotency_key: str,
    actor: str,
    reason: str = "",
    excess: bool = False,
) -> Created:
    """Refund `amount` KES (all that is left when None) of the payment with reference `payment`
    (an invoice id, or a Kibeti payment's KP reference). `excess`: refund only what is left on the
    invoice's own account and was never credited (an overpayment; a payment too small or too late).
    In the caller's transaction."""
    key = f"{merchant_id}:{idempotency_key}"
    existing = (
        await session.execute(select(Refund).where(Refund.idempotency_key == key))
    ).scalar_one_or_none()
    if existing is not None:
        return Created(existing, None, replayed=True)
    if excess:
        return await _refund_excess(session, merchant_id, payment, key, actor, reason)
    credit = await _credit(session, merchant_id, payment)
    left = credit.gross_minor - credit.refunded_minor
    wanted = amount.minor if amount is not None else left
    if amount is not None and (amount.asset is not Asset.KES or not amount.is_positive()):
        raise RefundAmountInvalid("a refund is a positive amount in KES")
    if wanted <= 0 or wanted > left:
        raise RefundTooLarge(
            f"at most KES {left // 100}.{left % 100:02d} of {credit.reference} can be refunded"
        )
    account = await merchant_account_id(session, merchant_id)
    kibeti = credit.source == CreditSource.KIBETI.value and credit.payer_customer_id is not None
    crypto = None if kibeti else crypto_share(credit, wanted)
    if crypto is not None and not crypto.is_positive():
        raise RefundAmountInvalid("this refund is smaller than the crypto's smallest unit")
    row = Refund(
        public_id=f"rf_{secrets.token_hex(8)}", merchant_id=merchant_id, credit_id=credit.id,
        idempotency_key=key, method=(RefundMethod.WALLET if kibeti else RefundMethod.CRYPTO).value,
        status=RefundStatus.AWAITING_ADDRESS.value, amount_minor=wanted,
        asset=Asset.KES.value if crypto is None else crypto.asset.value, payout_minor=0, network_fee_minor=0,
        address="", token_hash="", reason=reason[:200], failure="", created_by=actor[:100],
        created_at=clock_of(session).now(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    credit.refunded_minor += wanted
    money = Money.from_minor(wanted, Asset.KES)
    token: str | None = None
    if kibeti:
        to_account = await ledger.get_or_open_account(
            session=session,
            owner_type=OwnerType.CUSTOMER,
            owner_id=int(credit.payer_customer_id or 0),
            asset=Asset.KES,
        )
        entry = await ledger.transfer(
            session=session, idempotency_key=f"refund:{row.public_id}", from_account_id=account,
            to_account_id=to_account.id, amount=money, kind="merchant_refund",
            memo=f"refund {row.public_id} of {credit.reference}",
            details={"refund_id": row.public_id, "merchant_id": merchant_id, "credit_id": credit.id},
        )  # fmt: skip
        row.entry_id, row.status, row.finished_at = (
            entry.entry_id,
            RefundStatus.COMPLETED.value,
            clock_of(session).now(),
        )
        row.payout_minor = wanted
    elif crypto is not None:  # the payer's share of the crypto leaves FX liquidity now
        row.entry_id = await _to_refund_wallet(session, row, money, crypto, account)
        token = secrets.token_urlsafe(24)
        row.payout_minor, row.token_hash = crypto.minor, _hash(token)
    await _announce(session, row, "refund.created")
    if row.status == RefundStatus.COMPLETED.value:
        await _announce(session, row, "refund.completed")
    return Created(row, token)


async def _refund_excess(
    session: AsyncSession, merchant_id: int, payment: str, key: str, actor: str, reason: str
) -> Created:
    """What the invoice's payers paid beyond what the merchant was credited, back to them in the
    crypto they paid: moved from the invoice's account to the merchant's refund wallet, by link."""
    from core.invoices import service as invoices  # invoices build on settlements, not the reverse
    from core.invoices.errors import UnknownInvoice

    try:
        invoice = await invoices.find_invoice(session=session, public_id=payment, lock=True)
    except UnknownInvoice as exc:
        raise PaymentNotRefundable(f"no invoice {payment!r}") from exc
    if invoice.merchant_id != merchant_id:
        raise PaymentNotRefundable(f"no invoice {payment!r}")
    for asset in (Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20):
        account_id = await invoices.invoice_account_id(session=session, invoice_id=invoice.id, asset=asset)
        left = await ledger.available(session=session, account_id=account_id)
        if left.is_positive():
            break
    else:
        raise PaymentNotRefundable(f"invoice {payment} holds nothing beyond what was credited: no excess")
    credit = (
        await session.execute(
            select(MerchantCredit).where(
                MerchantCredit.merchant_id == merchant_id, MerchantCredit.reference == invoice.public_id
            )
        )
    ).scalar_one_or_none()
    row = Refund(
        public_id=f"rf_{secrets.token_hex(8)}", merchant_id=merchant_id, credit_id=credit.id if credit else 0,
        idempotency_key=key, method=RefundMethod.CRYPTO.value, status=RefundStatus.AWAITING_ADDRESS.value,
        amount_minor=0, asset=left.asset.value, payout_minor=left.minor, network_fee_minor=0, address="",
        source_account_id=account_id, reason=reason[:200] or "excess", failure="", created_by=actor[:100],
        created_at=clock_of(session).now(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    row.entry_id = await _excess_to_refund_wallet(session, row, left)
    token = secrets.token_urlsafe(24)
    row.token_hash = _hash(token)
    await _announce(session, row, "refund.created")
    return Created(row, token)


async def _excess_to_refund_wallet(
    session: AsyncSession, row: Refund, crypto: Money, *, back: bool = False
) -> int:
    wallet = await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.MERCHANT, owner_id=row.merchant_id, asset=crypto.asset
    )
    source = int(row.source_account_id or 0)
    posted = await ledger.post_entry(
        session=session, idempotency_key=f"refund:{row.public_id}:{'back' if back else 'out'}",
        kind="merchant_refund_failed" if back else "merchant_refund",
        postings=[
            PostingRequest(source, crypto if back else -crypto),
            PostingRequest(wallet.id, -crypto if back else crypto),
        ],
        memo=f"refund {row.public_id}: excess {crypto}" + (" back to the invoice" if back else ""),
        details={"refund_id": row.public_id},
    )  # fmt: skip
    return posted.entry_id


async def by_token(*, session: AsyncSession, token: str) -> Refund:
    row = (
        await session.execute(select(Refund).where(Refund.token_hash == _hash(token or "-")))
    ).scalar_one_or_none()
    if row is None or row.status != RefundStatus.AWAITING_ADDRESS.value:
        raise RefundLinkInvalid("this refund link is not valid, or was used already")
    return row


def crypto_share(credit: MerchantCredit, amount_minor: int) -> Money:
    """The payer's share of the crypto they paid for `amount_minor` of the payment's KES (down)."""
    minor = credit.paid_minor * Decimal(amount_minor) / Decimal(credit.gross_minor)
    return Money.from_minor(int(minor), Asset(credit.paid_asset))


async def claim(*, session: AsyncSession, token: str, address: str, chains: ChainGateway) -> Refund:
    """The payer entered `address` on the link: validate it for the network, then screen it and send
    the refund less the network fee through the withdrawal pipeline (all in this transaction)."""
    row = await by_token(session=session, token=token)
    asset = Asset(row.asset)
    canonical = chains.validate_address(asset=asset, address=address.strip())  # InvalidAddress
    crypto = Money.from_minor(row.payout_minor, asset)
    fee = await chains.network_fee(asset=asset, address=canonical, amount=crypto)
    if crypto <= fee:
        raise RefundBelowNetworkFee(f"the network fee ({fee}) would take all of the refund ({crypto})")
    kes = Money.from_minor(row.amount_minor, Asset.KES)
    ticket = await chains.request_withdrawal(
        session=session, request_key=f"refund:{row.public_id}", owner_type=OwnerType.MERCHANT.value,
        owner_id=row.merchant_id, asset=asset, address=canonical, amount=crypto - fee, fee=fee,
        amount_kes=kes, network_fee=fee,
    )  # fmt: skip
    row.status, row.address, row.withdrawal_id = (
        RefundStatus.SENDING.value,
        ticket.address,
        ticket.withdrawal_id,
    )
    row.network_fee_minor = fee.minor
    row.token_hash = ""  # one time
    return row


async def withdrawal_final(
    *, session: AsyncSession, withdrawal_id: int, outcome: str, txid: str
) -> Refund | None:
    """The refund's withdrawal is final: completed, or failed and the merchant gets its KES back."""
    row = (
        await session.execute(select(Refund).where(Refund.withdrawal_id == withdrawal_id))
    ).scalar_one_or_none()
    if row is None or row.status != RefundStatus.SENDING.value:
        return row
    row.finished_at = clock_of(session).now()
    if outcome == "confirmed":
        row.status = RefundStatus.COMPLETED.value
        await _announce(session, row, "refund.completed")
        return row
    crypto = Money.from_minor(row.payout_minor, Asset(row.asset))
    if row.source_account_id is not None:  # an excess: back to the invoice's account
        await _excess_to_refund_wallet(session, row, crypto, back=True)
    else:
        kes = Money.from_minor(row.amount_minor, Asset.KES)
        account = await merchant_account_id(session, row.merchant_id)
        await _to_refund_wallet(session, row, kes, crypto, account, back=True)
    credit = await session.get(MerchantCredit, row.credit_id)
    if credit is not None:
        credit.refunded_minor -= row.amount_minor
    row.status = RefundStatus.FAILED.value
    row.failure = f"the network send failed ({txid or 'not sent'}); the merchant was credited back"
    return row


async def get_refund(*, session: AsyncSession, merchant_id: int, public_id: str) -> Refund:
    row = (
        await session.execute(
            select(Refund).where(Refund.public_id == public_id, Refund.merchant_id == merchant_id)
        )
    ).scalar_one_or_none()
    if row is None:
        raise RefundNotFound(f"no refund {public_id}")
    return row
