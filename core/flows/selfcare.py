"""Customer self-care shared by every channel: rates without a trade, money on its way (pending
deposits, withdrawals and payouts), a PIN check, and the forgotten-PIN reset by SMS code."""

from __future__ import annotations

import logging
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.errors import KibetiError
from core.flows.errors import ServiceUnavailable
from core.flows.types import PendingLine, RateLine
from core.fx import service as fx
from core.identity import flows as identity_flows
from core.identity import otp as otps
from core.identity import pin as identity_pin
from core.identity import service as identity
from core.identity.errors import CustomerNotFound, NationalIdMismatch, OtpExpired, OtpInvalid
from core.identity.phone import normalize_phone
from core.ledger.models import Account, AccountKind, Hold, HoldStatus, OwnerType
from core.money import Asset, Money
from core.ports import DepositWatch
from core.quotes import service as quotes
from core.quotes.maths import QuoteKind, QuoteRequest
from core.rails.models import OPEN_ORDER, RailOrder

if TYPE_CHECKING:
    from core.flows.service import CoreFlows

log = logging.getLogger(__name__)
CRYPTO = (Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)
RATE_SAMPLE_KES = Decimal(1000)  # the size the rates are priced at (a typical trade)


async def rates(flows: CoreFlows) -> list[RateLine]:
    """Per asset, the KES rate a buy and a sell would get now (what the quote screens show)."""
    lines = []
    async with flows.rt.session_factory() as session:
        for asset in CRYPTO:
            buy = sell = None
            demo = False
            try:
                rate = await fx.latest_rate(
                    session=session, base=asset.currency, quote="KES", clock=flows.rt.clock
                )
                demo = "demo" in (rate.source or "")
                terms, _, _ = await quotes.price(
                    session=session,
                    request=QuoteRequest(QuoteKind.BUY, asset, Money.of(RATE_SAMPLE_KES, Asset.KES)),
                    clock=flows.rt.clock,
                )
                buy = Money.round_up(terms.rate, Asset.KES)
                crypto = Money.round_down(RATE_SAMPLE_KES / Decimal(rate.bid), asset)
                terms, _, _ = await quotes.price(
                    session=session, request=QuoteRequest(QuoteKind.SELL, asset, crypto), clock=flows.rt.clock
                )
                sell = Money.round_down(terms.rate, Asset.KES)
            except KibetiError as exc:  # no rate now: shown as unavailable, never a guess
                log.info("rates: %s unavailable: %s", asset.value, getattr(exc, "code", exc))
            lines.append(RateLine(asset=asset, buy=buy, sell=sell, demo=demo))
    return lines


def _hold_kind(hold: Hold) -> str:
    details = hold.details or {}
    if "payout_id" in details:
        return "payout"
    if "network" in details:
        return "withdrawal"
    return "hold"


async def pending(flows: CoreFlows, *, customer_id: int) -> list[PendingLine]:
    """Deposits seen but not confirmed (from the chains adapter, when it can tell), money held for a
    withdrawal or an M-Pesa payout until it is final, and card / Airtel Money orders waiting for the
    customer to pay on the link (kind "payment_link"); newest first."""
    lines: list[PendingLine] = []
    async with flows.rt.session_factory() as session:
        query = (
            select(Hold)
            .join(Account, Account.id == Hold.account_id)
            .where(
                Account.owner_type == OwnerType.CUSTOMER.value,
                Account.owner_id == customer_id,
                Account.kind == AccountKind.WALLET.value,
                Hold.status == HoldStatus.PENDING.value,
            )
            .order_by(Hold.id.desc())
            .limit(20)
        )
        for hold in (await session.execute(query)).scalars():
            at = hold.created_at if hold.created_at.tzinfo else hold.created_at.replace(tzinfo=UTC)
            amount = Money.from_minor(int(hold.amount), Asset(hold.asset))
            lines.append(PendingLine(kind=_hold_kind(hold), amount=amount, at=at))
        orders = select(RailOrder).where(
            RailOrder.customer_id == customer_id, RailOrder.status.in_(OPEN_ORDER)
        )
        for order in (await session.execute(orders.order_by(RailOrder.id.desc()).limit(20))).scalars():
            at = order.created_at if order.created_at.tzinfo else order.created_at.replace(tzinfo=UTC)
            amount = Money.from_minor(order.amount_minor, Asset(order.currency))
            lines.append(PendingLine(kind="payment_link", amount=amount, at=at))
    chains = flows.rt.chains
    if isinstance(chains, DepositWatch):
        for deposit in await chains.pending_deposits(owner_type="customer", owner_id=customer_id):
            lines.append(
                PendingLine(
                    kind="deposit", amount=deposit.amount, at=deposit.seen_at,
                    confirmations=deposit.confirmations, required=deposit.required,
                )
            )  # fmt: skip
    lines.sort(key=lambda line: line.at, reverse=True)
    return lines


async def check_pin(flows: CoreFlows, *, customer_id: int, pin: str) -> None:
    await identity_flows.check_pin(
        session_factory=flows.rt.session_factory, limiter=flows.rt.rate_limiter,
        customer_id=customer_id, pin=pin, clock=flows.rt.clock,
    )  # fmt: skip


async def start_pin_reset(flows: CoreFlows, *, phone: str) -> None:
    if flows.rt.notifier is None:
        raise ServiceUnavailable("Runtime.notifier is not wired: no code can be sent")
    e164 = normalize_phone(phone)
    async with flows.rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=e164)
        if customer is None:
            raise CustomerNotFound("no Kibeti account for this number")
        await otps.issue_otp(
            session=session, notifier=flows.rt.notifier, limiter=flows.rt.rate_limiter,
            phone=e164, purpose="pin_reset",
            clock=flows.rt.clock, language=customer.language,
        )  # fmt: skip
        await session.commit()


async def finish_pin_reset(
    flows: CoreFlows, *, phone: str, otp: str, national_id: str | None, new_pin: str
) -> None:
    e164 = normalize_phone(phone)
    identity_pin.check_new_pin(new_pin, phone=e164)
    async with flows.rt.session_factory() as session:
        try:
            await identity_flows.reset_pin_with_otp(
                session=session, limiter=flows.rt.rate_limiter, phone=e164, otp=otp,
                national_id=national_id, new_pin=new_pin, clock=flows.rt.clock,
            )  # fmt: skip
        except (OtpInvalid, OtpExpired, NationalIdMismatch):
            await session.commit()  # the failed try counts; a code used with a wrong ID is spent
            raise
        await session.commit()
    log.info("pin reset by SMS code")
