"""Invoices: create (rate locked, one address per network), read, list, and record payments; every
state change is appended to invoice_events and recorded as a webhook event in the same transaction.
Keyword-only; the caller's session owns the transaction."""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.clock import Clock, SystemClock
from core.errors import InvalidAmount
from core.fx import service as fx
from core.fx.errors import RatesUnavailable
from core.invoices import states
from core.invoices.errors import (
    InvalidCursor,
    InvalidInvoice,
    InvalidInvoiceAmount,
    InvoiceLimitExceeded,
    InvoiceRatesUnavailable,
    UnknownInvoice,
    UnsupportedCurrency,
    UnsupportedPaymentMethod,
)
from core.invoices.models import (
    OWNER_TYPE,
    AdditionalStatus,
    Invoice,
    InvoiceEvent,
    InvoiceMethod,
    InvoicePayment,
    InvoiceStatus,
    PaymentSource,
    PaymentStatus,
)
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.merchants import service as merchants
from core.merchants.models import Merchant
from core.money import Asset, Money, parse_amount
from core.ports import ChainGateway
from core.settlements import service as settlements
from core.webhooks.events import SAME_STATEMENT_FIRST_PARAMETER, SameStatement, record_event

NETWORK_ASSETS = (Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)
CONFIRMATIONS = {Asset.BTC: 3, Asset.USDT_ERC20: 3, Asset.USDT_TRC20: 20}
CURRENCIES = ("KES", "USD")
MONITORING_WINDOW = timedelta(hours=24)
MAX_AMOUNT_TEXT = 20
_AMOUNT_FORM = (
    "the amount must be a positive {currency} amount with at most 2 decimals, "
    "like 1500, 1,500 or 1,500.50 (commas only between groups of 3 digits)"
)
_ZERO = re.compile(r"^[0,]*(\.0*)?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$")
_ORDER_ID = re.compile(r"^[\x20-\x7e]{1,64}$")
STATUS_EVENTS = {
    InvoiceStatus.PROCESSING: "invoice.processing",
    InvoiceStatus.SETTLED: "invoice.settled",
    InvoiceStatus.EXPIRED: "invoice.expired",
    InvoiceStatus.INVALID: "invoice.invalid",
}
ADDITIONAL_EVENTS = {
    AdditionalStatus.PAID_PARTIAL: "invoice.paid_partial",
    AdditionalStatus.PAID_OVER: "invoice.paid_over",
    AdditionalStatus.PAID_LATE: "invoice.paid_late",
}


def new_public_id() -> str:
    """`inv_` and 16 characters of base32 (80 random bits): unguessable, fits a URL and a QR code."""
    return "inv_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def parse_invoice_amount(value: object, currency: str) -> int:
    """Minor units of a positive amount with at most 2 decimals, or InvalidInvoiceAmount.

    Text is read by `core.money.parse_amount`, the parser the customer flows (USSD, the portals) use:
    a thousands comma ("1,500", "1,000.50") is accepted, an ambiguous one ("1,50") refused."""
    text = str(value).strip() if isinstance(value, str | int | Decimal) else ""
    if isinstance(value, bool) or not text or len(text) > MAX_AMOUNT_TEXT:
        raise InvalidInvoiceAmount(_AMOUNT_FORM.format(currency=currency))
    if text.startswith("-") or _ZERO.match(text):
        raise InvalidInvoiceAmount("the amount must be more than zero")
    try:
        # KES and USD both have 2 decimals; KES here stands for "an amount with 2 decimals".
        money = parse_amount(text, Asset.KES)
    except InvalidAmount as exc:
        raise InvalidInvoiceAmount(_AMOUNT_FORM.format(currency=currency)) from exc
    return money.minor


def parse_networks(names: list[str] | None) -> list[Asset]:
    if names is None:
        return list(NETWORK_ASSETS)
    picked: list[Asset] = []
    for name in names:
        try:
            asset = Asset(str(name).upper())
        except ValueError:
            asset = None
        if asset not in NETWORK_ASSETS:
            allowed = ", ".join(a.value for a in NETWORK_ASSETS)
            raise UnsupportedPaymentMethod(
                f"unknown payment method {str(name)[:20]!r}; choose from {allowed}"
            )
        if asset is not None and asset not in picked:
            picked.append(asset)
    if not picked:
        raise UnsupportedPaymentMethod("choose at least one payment method")
    return picked


def _clean(text: str | None, limit: int, what: str) -> str:
    clean = " ".join((text or "").split())
    if len(clean) > limit or not clean.isprintable():
        raise InvalidInvoice(f"{what} is at most {limit} printable characters")
    return clean


def due_in(kes_minor: int, rate: Decimal, asset: Asset) -> int:
    """The asset amount (minor units) worth `kes_minor` at `rate` KES per unit, rounded up."""
    units = (Decimal(kes_minor) / 100 / rate).quantize(
        Decimal(1).scaleb(-asset.scale), rounding=ROUND_CEILING
    )
    return int(units.scaleb(asset.scale))


RATE_MEMO_SECONDS = 1.0


class _RateMemo:
    """The rates invoices lock, read from the database at most once a second per process and
    database (an override or a refresh shows within a second). Only on the real clock: with a test's
    or a simulation's clock every invoice reads afresh."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[float, Decimal, str]] = {}

    async def bid(self, session: AsyncSession, base: str, clock: Clock) -> tuple[Decimal, str]:
        memo = isinstance(clock, SystemClock)
        bind = session.bind
        where = (str(bind.url) if isinstance(bind, AsyncEngine) else str(id(bind)), base)
        entry = self._entries.get(where) if memo else None
        if entry is not None and entry[0] > time.monotonic():
            return entry[1], entry[2]
        rate = await fx.latest_rate(session=session, base=base, quote="KES", clock=clock)
        if memo:
            self._entries[where] = (time.monotonic() + RATE_MEMO_SECONDS, rate.bid, rate.source)
        return rate.bid, rate.source

    def clear(self) -> None:
        self._entries.clear()


rate_memo = _RateMemo()


async def _kes_rate(session: AsyncSession, asset: Asset, clock: Clock) -> tuple[Decimal, str]:
    """KES per unit of `asset` to lock: the bid (what the house can sell it for), house-favouring."""
    try:
        return await rate_memo.bid(session, asset.currency, clock)
    except RatesUnavailable as exc:
        raise InvoiceRatesUnavailable(f"no fresh {asset.currency}/KES rate: try again shortly") from exc


@dataclass(frozen=True)
class NewInvoice:
    amount: object
    currency: str = "KES"
    networks: list[str] | None = None
    order_id: str = ""
    description: str = ""
    buyer_phone: str = ""
    buyer_email: str = ""
    redirect_url: str = ""
    metadata: dict[str, Any] | None = None


async def create_invoice(
    *,
    session: AsyncSession,
    merchant_id: int,
    request: NewInvoice,
    clock: Clock,
    chains: ChainGateway,
    key_id: str = "",
) -> Invoice:
    """Lock the rate for the merchant's expiry, give every network its own address, record
    invoice.created. Validates everything before writing anything."""
    created = await create_invoice_view(
        session=session, merchant_id=merchant_id, request=request, clock=clock, chains=chains, key_id=key_id
    )
    return created.invoice


async def create_invoice_view(
    *,
    session: AsyncSession,
    merchant_id: int,
    request: NewInvoice,
    clock: Clock,
    chains: ChainGateway,
    key_id: str = "",
) -> InvoiceView:
    """`create_invoice`, answering the new invoice's view (built from what was written: no re-read)."""
    merchant = await merchants.require_active(session=session, merchant_id=merchant_id)
    currency = str(request.currency or "").upper()
    if currency not in CURRENCIES:
        raise UnsupportedCurrency(f"invoices are in KES or USD, not {str(request.currency)[:8]!r}")
    amount_minor = parse_invoice_amount(request.amount, currency)
    networks = parse_networks(request.networks)
    order_id = (request.order_id or "").strip()
    if order_id and not _ORDER_ID.match(order_id):
        raise InvalidInvoice("order id is 1 to 64 printable ASCII characters")
    description = _clean(request.description, 200, "description")
    buyer_phone = ""
    if request.buyer_phone:
        buyer_phone = _buyer_phone(request.buyer_phone)
    buyer_email = (request.buyer_email or "").strip()
    if buyer_email and (len(buyer_email) > 254 or not _EMAIL.match(buyer_email)):
        raise InvalidInvoice("buyer email is not an email address")
    redirect_url = (request.redirect_url or "").strip()
    if redirect_url and (
        len(redirect_url) > 500 or not re.match(r"^https?://[^\s/$.?#][^\s]*$", redirect_url)
    ):
        raise InvalidInvoice("redirect URL must be an http(s) URL of at most 500 characters")
    metadata = request.metadata or {}
    if len(repr(metadata)) > 4000:
        raise InvalidInvoice("metadata is at most 4000 characters")

    usd_rate = ""
    kes_minor = amount_minor
    if currency == "USD":
        rate, _source = await _usd_kes(session, clock)
        usd_rate = str(rate)
        kes_minor = int((Decimal(amount_minor) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if kes_minor > merchant.invoice_limit_minor:
        limit = Money.from_minor(merchant.invoice_limit_minor, Asset.KES)
        raise InvoiceLimitExceeded(
            f"the amount is above this merchant's invoice limit of KES {limit.amount:,.2f}"
        )
    if kes_minor < 100:
        raise InvalidInvoiceAmount("an invoice is at least KES 1.00")
    rates: dict[str, tuple[Decimal, str]] = {}
    for asset in networks:
        if asset.currency not in rates:
            rates[asset.currency] = await _kes_rate(session, asset, clock)

    now = clock.now()
    expires_at = now + timedelta(minutes=merchant.invoice_expiry_minutes)
    invoice = Invoice(
        public_id=new_public_id(),
        merchant_id=merchant.id,
        currency=currency,
        amount_minor=amount_minor,
        kes_amount_minor=kes_minor,
        usd_kes_rate=usd_rate,
        order_id=order_id,
        description=description,
        buyer_phone=buyer_phone,
        buyer_email=buyer_email,
        redirect_url=redirect_url,
        extra=metadata,
        status=InvoiceStatus.NEW.value,
        additional_status=AdditionalStatus.NONE.value,
        needs_review=False,
        tolerance_bps=merchant.payment_tolerance_bps,
        created_at=now,
        expires_at=expires_at,
        monitoring_until=expires_at + MONITORING_WINDOW,
        created_by_key=key_id,
    )
    session.add(invoice)
    await session.flush()
    created = {"amount_minor": amount_minor, "currency": currency}
    in_one_statement = _postgresql(session)  # the event and the methods: with the webhook event
    if not in_one_statement:  # flushed with the methods below (one flush, not two)
        await _log(session, invoice, "invoice.created", created, now, flush=False)
    # the HD index counters stay locked from here until the caller commits: the last writes
    addresses = await chains.new_owner_addresses(
        owner_type=OWNER_TYPE, owner_id=invoice.id, assets=networks, session=session
    )
    methods = [
        InvoiceMethod(
            invoice_id=invoice.id,
            asset=asset.value,
            address=address.address,
            rate=str(rates[asset.currency][0]),
            rate_source=rates[asset.currency][1][:80],
            due_minor=due_in(kes_minor, rates[asset.currency][0], asset),
            demo=address.demo,
        )
        for asset, address in zip(networks, addresses, strict=True)
    ]
    methods.append(  # M-Pesa: the KES amount itself (every column given, as above: one INSERT of all four)
        InvoiceMethod(
            invoice_id=invoice.id,
            asset=Asset.KES.value,
            address="",
            rate="1",
            rate_source="",
            due_minor=kes_minor,
            demo=False,
        )
    )
    if in_one_statement:
        same_statement = _created_rows(invoice, created, now, methods)
        await _webhook(session, invoice, "invoice.created", methods, same_statement=same_statement)
    else:
        session.add_all(methods)
        await session.flush()
        await _webhook(session, invoice, "invoice.created", methods)
    return _view_of(invoice, merchant.name, methods, [])


# The invoice.created event and the payment methods, written in the webhook event's statement
# (PostgreSQL): $8 invoice id, $9 kind, $10 status, $11 additional status, $12 details (JSON text),
# $13 at (aware); $14..$19 the methods' assets, addresses, rates, rate sources, amounts due (minor), demo
_CREATED_CTES = """
created_event AS (
    INSERT INTO invoice_events (invoice_id, kind, status, additional_status, details, at)
    VALUES ($8::bigint, $9, $10, $11, $12::text::json, $13)
),
created_methods AS (
    INSERT INTO invoice_methods (invoice_id, asset, address, rate, rate_source, due_minor, demo)
    SELECT $8::bigint, asset, address, rate, rate_source, due_minor, demo
    FROM unnest($14::text[], $15::text[], $16::text[], $17::text[], $18::bigint[], $19::boolean[])
        AS method (asset, address, rate, rate_source, due_minor, demo)
)"""


def _postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def _created_rows(
    invoice: Invoice, details: dict[str, Any], now: datetime, methods: list[InvoiceMethod]
) -> SameStatement:
    """The invoice.created event and the methods as writes in the webhook event's own statement: one
    round trip for what the ORM flush of both and the event wrote in three. The method rows stay out
    of the session (nothing reads them back in this transaction but through a query, which finds them)."""
    assert SAME_STATEMENT_FIRST_PARAMETER == 8  # _CREATED_CTES numbers its parameters from $8
    return SameStatement(
        _CREATED_CTES,
        [
            invoice.id, "invoice.created", invoice.status, invoice.additional_status,
            json.dumps(details), now,
            [m.asset for m in methods], [m.address for m in methods], [m.rate for m in methods],
            [m.rate_source for m in methods], [m.due_minor for m in methods], [m.demo for m in methods],
        ],
    )  # fmt: skip


def _buyer_phone(text: str) -> str:
    from core.identity.errors import InvalidPhoneNumber
    from core.identity.phone import normalize_phone

    try:
        return normalize_phone(text)
    except InvalidPhoneNumber as exc:
        raise InvalidInvoice(f"buyer phone: {exc}") from exc


async def _usd_kes(session: AsyncSession, clock: Clock) -> tuple[Decimal, str]:
    try:
        return await rate_memo.bid(session, "USD", clock)
    except RatesUnavailable as exc:
        raise InvoiceRatesUnavailable("no fresh USD/KES rate: try again shortly") from exc


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodView:
    asset: Asset
    address: str
    rate: Decimal  # KES per unit, locked
    due: Money  # the whole invoice in this asset
    paid: Money  # seen or confirmed, on time or late
    remaining: Money  # what is still to pay in this asset alone (0 when covered)
    confirmations_required: int
    demo: bool


@dataclass(frozen=True)
class PaymentView:
    asset: Asset
    source: str
    reference: str
    amount: Money
    status: str
    reason: str
    late: bool
    seen_at: datetime
    confirmed_at: datetime | None


@dataclass(frozen=True)
class InvoiceView:
    """What a checkout page, the merchant API and the CLI show of an invoice."""

    invoice: Invoice
    merchant_name: str
    amount: Money  # in the invoice's currency (KES, or USD as a 2-decimal amount)
    kes_amount: Money
    methods: list[MethodView]
    payments: list[PaymentView]
    paid_fraction: Decimal  # of the whole invoice, seen or confirmed (1 = paid in full)

    @property
    def public_id(self) -> str:
        return self.invoice.public_id

    @property
    def status(self) -> str:
        return self.invoice.status

    @property
    def additional_status(self) -> str:
        return self.invoice.additional_status

    @property
    def expires_at(self) -> datetime:
        return self.invoice.expires_at

    def method(self, asset: Asset) -> MethodView | None:
        return next((m for m in self.methods if m.asset is asset), None)


async def find_invoice(*, session: AsyncSession, public_id: str, lock: bool = False) -> Invoice:
    query = select(Invoice).where(Invoice.public_id == (public_id or "").strip())
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        raise UnknownInvoice(f"no invoice {str(public_id)[:40]!r}")
    return row


async def _methods(session: AsyncSession, invoice_id: int) -> list[InvoiceMethod]:
    query = select(InvoiceMethod).where(InvoiceMethod.invoice_id == invoice_id).order_by(InvoiceMethod.id)
    return list((await session.execute(query)).scalars())


async def _payments(session: AsyncSession, invoice_id: int) -> list[InvoicePayment]:
    query = select(InvoicePayment).where(InvoicePayment.invoice_id == invoice_id).order_by(InvoicePayment.id)
    return list((await session.execute(query.execution_options(populate_existing=True))).scalars())


def _facts(methods: list[InvoiceMethod], payments: list[InvoicePayment]) -> list[states.PaymentFact]:
    due = {m.asset: m.due_minor for m in methods}
    return [
        states.PaymentFact(
            amount_minor=p.amount_minor,
            due_minor=due.get(p.asset, 0),
            status=PaymentStatus(p.status),
            late=p.late,
        )
        for p in payments
    ]


async def get_invoice(*, session: AsyncSession, invoice_id: str, clock: Clock | None = None) -> InvoiceView:
    """The invoice by its public id, with amounts per network, addresses, payments and expiry. With a
    clock, a New invoice past its expiry is expired first (in the caller's transaction)."""
    invoice = await find_invoice(session=session, public_id=invoice_id)
    if clock is not None and invoice.status == InvoiceStatus.NEW.value and clock.now() >= invoice.expires_at:
        await recompute(session=session, invoice=invoice, now=clock.now())
    return await view(session=session, invoice=invoice)


async def view(*, session: AsyncSession, invoice: Invoice) -> InvoiceView:
    methods = await _methods(session, invoice.id)
    payments = await _payments(session, invoice.id)
    merchant = await session.get(Merchant, invoice.merchant_id)
    return _view_of(invoice, merchant.name if merchant is not None else "", methods, payments)


def _view_of(
    invoice: Invoice, merchant_name: str, methods: list[InvoiceMethod], payments: list[InvoicePayment]
) -> InvoiceView:
    paid_total = states.totals(_facts(methods, payments)).total
    views = []
    for method in methods:
        asset = Asset(method.asset)
        paid_here = sum(
            p.amount_minor
            for p in payments
            if p.asset == method.asset and p.status in (PaymentStatus.SEEN, PaymentStatus.CONFIRMED)
        )
        left = 1 - paid_total
        remaining = math.ceil(left * method.due_minor) if left > 0 else 0
        views.append(
            MethodView(
                asset=asset,
                address=method.address,
                rate=Decimal(method.rate),
                due=Money.from_minor(method.due_minor, asset),
                paid=Money.from_minor(paid_here, asset),
                remaining=Money.from_minor(remaining, asset),
                confirmations_required=CONFIRMATIONS.get(asset, 0),
                demo=method.demo,
            )
        )
    return InvoiceView(
        invoice=invoice,
        merchant_name=merchant_name,
        amount=Money.from_minor(invoice.amount_minor, Asset.KES)
        if invoice.currency == "KES"
        else _usd(invoice),
        kes_amount=Money.from_minor(invoice.kes_amount_minor, Asset.KES),
        methods=views,
        payments=[
            PaymentView(
                asset=Asset(p.asset),
                source=p.source,
                reference=p.reference,
                amount=Money.from_minor(p.amount_minor, Asset(p.asset)),
                status=p.status,
                reason=p.reason,
                late=p.late,
                seen_at=p.seen_at,
                confirmed_at=p.confirmed_at,
            )
            for p in payments
        ],
        paid_fraction=Decimal(paid_total.numerator) / Decimal(paid_total.denominator),
    )


def _usd(invoice: Invoice) -> Money:
    """A USD amount carried as a 2-decimal Money (the money module has no USD asset): KES-scaled."""
    return Money.from_minor(invoice.amount_minor, Asset.KES)


def encode_cursor(invoice_id: int) -> str:
    return base64.urlsafe_b64encode(f"i:{invoice_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = raw.partition(":")
        value = int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("the cursor is not one this API gave") from exc
    if kind != "i" or value < 1:
        raise InvalidCursor("the cursor is not one this API gave")
    return value


async def list_invoices(
    *,
    session: AsyncSession,
    merchant_id: int,
    limit: int = 50,
    cursor: str | None = None,
    status: str | None = None,
    order_id: str | None = None,
) -> tuple[list[Invoice], str | None]:
    """Newest first; the next page's cursor (None on the last page). Stable under inserts."""
    query = select(Invoice).where(Invoice.merchant_id == merchant_id)
    if cursor:
        query = query.where(Invoice.id < decode_cursor(cursor))
    if status:
        query = query.where(Invoice.status == status)
    if order_id:
        query = query.where(Invoice.order_id == order_id)
    rows = list((await session.execute(query.order_by(Invoice.id.desc()).limit(limit + 1))).scalars())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


# --- payments and state changes -----------------------------------------------------------------


async def invoice_account_id(*, session: AsyncSession, invoice_id: int, asset: Asset) -> int:
    """The invoice's own ledger account in `asset`: what its payers paid, until it is settled."""
    account = await ledger.get_or_open_account(
        session=session, owner_type=OWNER_TYPE, owner_id=invoice_id, asset=asset, kind=AccountKind.WALLET
    )
    return account.id


async def _lock(session: AsyncSession, invoice_id: int) -> Invoice:
    query = select(Invoice).where(Invoice.id == invoice_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        raise UnknownInvoice(f"no invoice {invoice_id}")
    return row


async def record_payment(
    *,
    session: AsyncSession,
    invoice_id: int,
    source: PaymentSource,
    asset: Asset,
    reference: str,
    amount_minor: int,
    status: PaymentStatus,
    now: datetime,
    reason: str = "",
    entry_id: str = "",
    seen_at: datetime | None = None,
) -> InvoicePayment:
    """Record or move one payment (seen -> confirmed, seen -> orphaned -> seen), then recompute the
    invoice. Idempotent: a payment already in `status` changes nothing. Never moves a confirmed one.
    `seen_at` (default `now`) decides lateness: an M-Pesa payment counts from when it was requested."""
    invoice = await _lock(session, invoice_id)
    query = select(InvoicePayment).where(
        InvoicePayment.source == source.value,
        InvoicePayment.asset == asset.value,
        InvoicePayment.reference == reference,
    )
    payment = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if reason:
        status = PaymentStatus.FLAGGED
    if payment is None:
        payment = InvoicePayment(
            invoice_id=invoice.id,
            source=source.value,
            asset=asset.value,
            reference=reference[:120],
            amount_minor=amount_minor,
            status=status.value,
            reason=reason[:64],
            late=states.is_late(seen_at=seen_at or now, expires_at=invoice.expires_at),
            seen_at=seen_at or now,
        )
        session.add(payment)
        if status is PaymentStatus.FLAGGED:
            invoice.needs_review = True
    elif payment.status == status.value or payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.FLAGGED):
        return payment
    else:
        payment.status = status.value
    if status is PaymentStatus.CONFIRMED:
        payment.confirmed_at, payment.entry_id = now, entry_id
        if invoice.status in (InvoiceStatus.EXPIRED, InvoiceStatus.INVALID):
            invoice.needs_review = True  # money on an invoice that takes none: staff refund or re-price
    await session.flush()
    await _log(
        session,
        invoice,
        f"payment.{status.value}",
        {"asset": asset.value, "reference": reference, "amount_minor": amount_minor, "reason": reason},
        now,
    )
    await recompute(session=session, invoice=invoice, now=now)
    return payment


async def recompute(*, session: AsyncSession, invoice: Invoice, now: datetime) -> states.State:
    """Apply the state machine; on a change, append the event, record the webhook, and on Settled
    credit the merchant (core.settlements), all in the caller's transaction."""
    methods = await _methods(session, invoice.id)
    payments = await _payments(session, invoice.id)
    current = states.State(InvoiceStatus(invoice.status), AdditionalStatus(invoice.additional_status))
    new = states.next_state(
        current=current,
        payments=_facts(methods, payments),
        tolerance_bps=invoice.tolerance_bps,
        now=now,
        expires_at=invoice.expires_at,
        monitoring_until=invoice.monitoring_until,
    )
    if new == current:
        return new
    invoice.status, invoice.additional_status = new.status.value, new.additional.value
    invoice.needs_review = invoice.needs_review or new.needs_review
    if new.status is InvoiceStatus.SETTLED and invoice.settled_at is None:
        invoice.settled_at = now
    await session.flush()
    await _log(session, invoice, "invoice.state", {"from": [current.status, current.additional]}, now)
    if new.status is not current.status and new.status in STATUS_EVENTS:
        if new.status is InvoiceStatus.SETTLED:
            await _credit_merchant(session, invoice, methods, payments)
        await _webhook(session, invoice, STATUS_EVENTS[new.status], methods)
    if new.additional is not current.additional and new.additional in ADDITIONAL_EVENTS:
        await _webhook(session, invoice, ADDITIONAL_EVENTS[new.additional], methods)
    return new


async def _credit_merchant(
    session: AsyncSession, invoice: Invoice, methods: list[InvoiceMethod], payments: list[InvoicePayment]
) -> None:
    """A Settled invoice credits the merchant's KES balance less the fee (core.settlements), from
    the invoice's own accounts: what was paid in time and confirmed, at most the invoice's worth;
    any surplus stays on the invoice's account (PaidOver: a refund)."""
    merchant = await merchants.get_merchant(session=session, merchant_id=invoice.merchant_id)
    due = {m.asset: m.due_minor for m in methods}
    taken: list[tuple[Asset, int, Fraction]] = []
    left = Fraction(1)
    for asset_value in dict.fromkeys(p.asset for p in payments):
        confirmed = sum(
            p.amount_minor
            for p in payments
            if p.asset == asset_value and p.status == PaymentStatus.CONFIRMED and not p.late
        )
        if confirmed <= 0 or left <= 0 or due.get(asset_value, 0) <= 0:
            continue
        fraction = min(Fraction(confirmed, due[asset_value]), left)
        amount = min(confirmed, math.ceil(fraction * due[asset_value]))
        taken.append((Asset(asset_value), amount, fraction))
        left -= fraction
    total = sum((f for _, _, f in taken), Fraction(0))
    gross_left = invoice.kes_amount_minor
    for number, (asset, amount, fraction) in enumerate(taken):
        last = number == len(taken) - 1
        gross = gross_left if last else int(invoice.kes_amount_minor * fraction / total)
        gross_left -= gross
        paid = Money.from_minor(amount, asset)
        if asset is Asset.KES:
            gross = amount  # M-Pesa money is credited as paid (whole shillings)
        await settlements.credit_settled_invoice(
            session=session,
            merchant=merchant,
            invoice_id=invoice.public_id if len(taken) == 1 else f"{invoice.public_id}/{asset.value}",
            reference=invoice.public_id,
            gross=Money.from_minor(gross, Asset.KES),
            paid=paid,
            paid_from_account_id=await invoice_account_id(
                session=session, invoice_id=invoice.id, asset=asset
            ),
        )


async def needing_review(*, session: AsyncSession, limit: int = 200) -> list[Invoice]:
    """Invoices flagged for staff (late money, another token, money after expiry), oldest first."""
    query = select(Invoice).where(Invoice.needs_review.is_(True)).order_by(Invoice.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def expire_due(*, session: AsyncSession, now: datetime, limit: int = 500) -> int:
    """Expire New invoices past their expiry and invalidate Processing ones past the monitoring
    window; returns how many changed."""
    query = (
        select(Invoice.id)
        .where(
            ((Invoice.status == InvoiceStatus.NEW.value) & (Invoice.expires_at <= now))
            | ((Invoice.status == InvoiceStatus.PROCESSING.value) & (Invoice.monitoring_until <= now))
        )
        .order_by(Invoice.id)
        .limit(limit)
    )
    changed = 0
    for invoice_id in list((await session.execute(query)).scalars()):
        invoice = await _lock(session, invoice_id)
        before = invoice.status
        await recompute(session=session, invoice=invoice, now=now)
        changed += invoice.status != before
    return changed


# --- the event log and webhooks ---------------------------------------------------------------


async def _log(
    session: AsyncSession,
    invoice: Invoice,
    kind: str,
    details: dict[str, Any],
    now: datetime,
    *,
    flush: bool = True,
) -> None:
    session.add(
        InvoiceEvent(
            invoice_id=invoice.id,
            kind=kind,
            status=invoice.status,
            additional_status=invoice.additional_status,
            details=details,
            at=now,
        )
    )
    if flush:
        await session.flush()


def webhook_payload(invoice: Invoice, methods: list[InvoiceMethod]) -> dict[str, Any]:
    """The invoice as a webhook carries it (the same field names as the merchant API's invoice)."""
    return {
        "id": invoice.public_id,
        "order_id": invoice.order_id,
        "status": invoice.status,
        "additional_status": invoice.additional_status,
        "amount": f"{Decimal(invoice.amount_minor) / 100:.2f}",
        "currency": invoice.currency,
        "kes_amount": f"{Decimal(invoice.kes_amount_minor) / 100:.2f}",
        "expires_at": invoice.expires_at.isoformat(),
        "metadata": invoice.extra,
        "payment_methods": [
            {
                "asset": m.asset,
                "address": m.address,
                "rate": m.rate,
                "due": f"{Money.from_minor(m.due_minor, Asset(m.asset)).amount:f}",
            }
            for m in methods
        ],
    }


async def _webhook(
    session: AsyncSession,
    invoice: Invoice,
    event_type: str,
    methods: list[InvoiceMethod],
    *,
    same_statement: SameStatement | None = None,
) -> None:
    suffix = invoice.additional_status if event_type in ADDITIONAL_EVENTS.values() else ""
    await record_event(
        session,
        merchant_id=invoice.merchant_id,
        event_type=event_type,
        object_id=invoice.public_id,
        payload=webhook_payload(invoice, methods),
        idempotency_key=f"{invoice.public_id}:{event_type}{':' + suffix if suffix else ''}",
        same_statement=same_statement,
    )
