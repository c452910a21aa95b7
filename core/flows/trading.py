"""Buy, sell and send: quote -> PIN -> compliance gate -> ledger + outbox, in one transaction.

buy:  quote (rate locked) -> PIN -> gate -> M-Pesa collection + STK job + `complete_buy` job (outbox);
      the STK callback credits the KES wallet, then `complete_buy` executes the locked quote.
sell: quote -> PIN -> gate -> execute the quote (crypto -> KES wallet) -> payout (hold + row + job).
send: to a registered number, a ledger transfer now; to an unregistered one, into the claims
      account with a claim row and an SMS invitation (see core.flows.claims).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.flows import accounts, claims
from core.flows.errors import Refused, SelfSend, ServiceUnavailable
from core.flows.types import QuoteView, Receipt
from core.i18n import translate
from core.identity import service as identity
from core.identity.models import Customer
from core.inbound import service as inbound
from core.ledger import service as ledger
from core.ledger.errors import InsufficientFunds
from core.money import Asset, Money, format_money
from core.outbox import service as outbox
from core.payments import collections as mpesa_collections
from core.payments import service as payments
from core.ports import Decision, MovementCheck
from core.quotes import service as quotes
from core.quotes.errors import QuoteExpired, QuoteNotFound
from core.quotes.maths import Given, QuoteKind, QuoteRequest, Rail
from core.quotes.models import Quote, QuoteStatus
from core.rails import choice as rail_choice
from core.rails import service as rail_orders

if TYPE_CHECKING:
    from core.flows.service import CoreFlows

log = logging.getLogger(__name__)
COMPLETE_BUY_JOB = "core.flows.jobs.complete_buy"
KES_SEND_PREFIX = "kes:"


def _rate_text(row: Quote) -> str:
    rate = Decimal(row.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"1 {Asset(row.asset).currency}={format_money(Money(rate, Asset.KES))}"


def view_of(flows: CoreFlows, row: Quote) -> QuoteView:
    receive_minor = row.payout_minor if row.payout_minor is not None else row.receive_minor
    remaining = int((row.expires_at - flows.rt.clock.now()).total_seconds())
    return QuoteView(
        id=str(row.id),
        kind=row.kind,
        pay=Money.from_minor(row.pay_minor, Asset(row.pay_asset)),
        receive=Money.from_minor(receive_minor, Asset(row.receive_asset)),
        fee=Money.from_minor(row.fee_total_minor, Asset(row.fee_asset)),
        rate=_rate_text(row) if row.kind != QuoteKind.SEND.value else "",
        valid_seconds=max(0, remaining),
        expires_at=row.expires_at,
        demo="demo" in (row.rate_source or ""),
        kept=Money.from_minor(row.change_minor, Asset.KES) if row.change_minor is not None else None,
    )


async def quote(
    flows: CoreFlows,
    *,
    customer_id: int,
    kind: str,
    asset: Asset,
    amount: Money,
    given: Given = Given.PAY,
    rail: Rail | None = None,
) -> QuoteView:
    """Price and store a buy or sell. `given=RECEIVE`: `amount` is what the customer gets (a sell by
    KES value); `rail=WALLET`: a buy paid from the KES wallet; no rail: a buy is collected by the
    customer's network's rail (M-Pesa STK for Safaricom, PesaPal for Airtel and Telkom)."""
    async with flows.rt.session_factory() as session:
        customer = await identity.get_customer(session=session, customer_id=customer_id)
        if kind == QuoteKind.BUY.value and rail is not Rail.WALLET:
            rail = rail_choice.collection_rail(customer.phone, rail)
        request = QuoteRequest(
            kind=QuoteKind(kind), asset=asset, amount=amount, given=given, rail=rail or Rail.MPESA
        )
        row = await quotes.create_quote(
            session=session,
            request=request,
            clock=flows.rt.clock,
            customer_id=customer_id,
            kyc_tier=customer.kyc_tier,
        )
        await session.commit()
        return view_of(flows, row)


async def quote_send(flows: CoreFlows, *, customer_id: int, to_phone: str, amount: Money) -> QuoteView:
    if amount.asset is Asset.KES:
        expires = flows.rt.clock.now()
        return QuoteView(
            id=f"{KES_SEND_PREFIX}{amount.minor}",
            kind="send",
            pay=amount,
            receive=amount,
            fee=Money.zero(Asset.KES),
            rate="",
            valid_seconds=0,
            expires_at=expires,
        )
    request = QuoteRequest(
        kind=QuoteKind.SEND, asset=amount.asset, amount=amount, given=Given.PAY, rail=Rail.WALLET
    )
    async with flows.rt.session_factory() as session:
        customer = await identity.get_customer(session=session, customer_id=customer_id)
        row = await quotes.create_quote(
            session=session,
            request=request,
            clock=flows.rt.clock,
            customer_id=customer_id,
            kyc_tier=customer.kyc_tier,
        )
        await session.commit()
        return view_of(flows, row)


async def open_quote(
    flows: CoreFlows, session: AsyncSession, customer_id: int, quote_id: str, kind: str
) -> Quote:
    try:
        row = await quotes.get_quote(session=session, quote_id=int(quote_id))
    except ValueError as exc:
        raise QuoteNotFound(f"no quote {quote_id}") from exc
    if row.customer_id != customer_id or row.kind != kind:
        raise QuoteNotFound(f"no {kind} quote {quote_id} for this customer")
    if row.status == QuoteStatus.OPEN.value and flows.rt.clock.now() > row.expires_at:
        raise QuoteExpired(f"quote {quote_id} expired")
    return row


async def gate(flows: CoreFlows, session: AsyncSession, check: MovementCheck) -> None:
    """Ask the compliance gate; fail closed in production when it is not wired."""
    if flows.rt.compliance is None:
        if flows.rt.settings.is_production:
            raise ServiceUnavailable("Runtime.compliance (ComplianceGate) is not wired")
        log.warning("no compliance gate wired: %s allowed unchecked (not production)", check.kind)
        return
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        # The gate writes and commits in its own session. On SQLite (the embedded default) this
        # session's read snapshot could then never be upgraded to a write ("database is locked",
        # busy_timeout does not apply), so every buy/sell/send failed: end the snapshot first.
        await session.commit()
    result = await flows.rt.compliance.check(check)
    if result.decision is Decision.ALLOW:
        return
    raise Refused(result.reason_code, review=result.decision is Decision.REVIEW, details=result.details)


async def authorise(flows: CoreFlows, session: AsyncSession, customer_id: int, pin: str) -> Customer:
    return await flows.verify_pin(session, customer_id=customer_id, pin=pin)


async def confirm_buy(
    flows: CoreFlows, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
) -> Receipt:
    async with flows.rt.session_factory() as session:
        row = await open_quote(flows, session, customer_id, quote_id, "buy")
        customer = await authorise(flows, session, customer_id, pin)
        pay = Money.from_minor(row.pay_minor, Asset.KES)
        check = MovementCheck(customer_id, "buy", Money.from_minor(row.receive_minor, Asset(row.asset)), pay)
        if row.rail == Rail.WALLET.value:
            return await _buy_from_wallet(flows, session, row, customer, check, idempotency_key)
        await gate(flows, session, check)
        collect = BUY_COLLECTORS[Rail(row.rail)]
        return await collect(flows, session, row, customer, pay, idempotency_key)


async def _buy_by_stk(
    flows: CoreFlows, session: AsyncSession, row: Quote, customer: Customer, pay: Money, idempotency_key: str
) -> Receipt:
    """M-Pesa: an STK push to the customer's phone; `complete_buy` executes the quote once paid."""
    customer_id = customer.id
    kes_account = await accounts.wallet_account_id(session, customer_id, Asset.KES)
    collection = await mpesa_collections.create_collection(
        session=session,
        idempotency_key=idempotency_key,
        customer_id=customer_id,
        account_id=kes_account,
        phone=customer.phone,
        amount=pay,
        reference=f"KBT{row.id}",
    )
    await outbox.enqueue(
        session=session,
        job=COMPLETE_BUY_JOB,
        kwargs={
            "collection_id": collection.id,
            "quote_id": row.id,
            "accepted_at": flows.rt.clock.now().isoformat(),
            "idempotency_key": idempotency_key,
        },
        dedupe_key=f"buy:{idempotency_key}"[:160],
    )
    await session.commit()
    return Receipt(reference=f"C{collection.id}", status="pending", amount=pay)


async def _buy_by_link(
    flows: CoreFlows, session: AsyncSession, row: Quote, customer: Customer, pay: Money, idempotency_key: str
) -> Receipt:
    """A hosted-page rail (PesaPal: card, Airtel Money): an order whose payment link goes by SMS;
    the rail's confirmed status credits the wallet and executes the quote (core.rails.jobs)."""
    if row.rail not in flows.rt.collection_rails:  # refused now, not an order nobody can submit
        raise ServiceUnavailable(f"collection rail {row.rail!r} is not wired")
    kes_account = await accounts.wallet_account_id(session, customer.id, Asset.KES)
    order = await rail_orders.create_order(
        session=session, rail=row.rail, purpose="buy", idempotency_key=idempotency_key,
        customer_id=customer.id, account_id=kes_account, phone=customer.phone, amount=pay, quote_id=row.id,
        accepted_at=flows.rt.clock.now(),
    )  # fmt: skip
    await session.commit()
    # status "link": the payment link goes by SMS; a web channel can send the browser to `pay_at`
    pay_at = payment_link_path(order.link_code)
    return Receipt(reference=order.merchant_reference, status="link", amount=pay, details={"pay_at": pay_at})


def payment_link_path(code: str) -> str:
    """Our short payment link's path (webapp/api/pesapal.py serves it; it waits, then redirects)."""
    return f"/p/{code}"


BuyCollector = Callable[
    ["CoreFlows", AsyncSession, Quote, Customer, Money, str], Coroutine[Any, Any, Receipt]
]
# How each rail collects a buy's KES: the rail is the quote's, chosen by network and choice.
BUY_COLLECTORS: dict[Rail, BuyCollector] = {Rail.MPESA: _buy_by_stk, Rail.PESAPAL: _buy_by_link}


async def _buy_from_wallet(
    flows: CoreFlows, session: AsyncSession, row: Quote, customer: Customer, check: MovementCheck, key: str
) -> Receipt:
    """Issue 19: a buy paid from the KES wallet executes at once (no STK push, no callback to wait for)."""
    pay, asset = check.amount_kes, Asset(row.asset)
    kes_account = await accounts.wallet_account_id(session, customer.id, Asset.KES)
    if row.status == QuoteStatus.OPEN.value:  # a replay of an executed quote skips to execute_quote's
        available = await accounts.available(session, customer.id, Asset.KES)
        if available < pay:
            raise InsufficientFunds(f"{format_money(available)} available, {format_money(pay)} needed")
        await gate(flows, session, check)
    execution = await quotes.execute_quote(  # the same key again is a replay, not a second buy
        session=session, quote_id=row.id, pay_account_id=kes_account,
        receive_account_id=await accounts.wallet_account_id(session, customer.id, asset),
        idempotency_key=key, clock=flows.rt.clock,
    )  # fmt: skip
    await session.commit()
    got = Money.from_minor(row.receive_minor, asset)
    reference = f"KB{execution.entry_id}"
    if not execution.replayed:
        await flows.notify(
            phone=customer.phone, code="sms.buy_wallet_receipt", language=customer.language,
            reference=f"{key}:receipt", amount=on_network(got, customer.language),
            pay=format_money(pay, customer.language), ref=reference,
        )  # fmt: skip
    return Receipt(reference=reference, status="done", amount=got)


def on_network(amount: Money, language: str) -> str:
    """An amount with its network for an SMS ("USDT 10.00 on TRON"): USDT is on two chains."""
    shown = format_money(amount, language)
    if amount.asset not in (Asset.USDT_ERC20, Asset.USDT_TRC20):
        return shown
    return translate(f"network.{amount.asset.name.lower()}", language, amount=shown)


async def confirm_sell(
    flows: CoreFlows, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
) -> Receipt:
    async with flows.rt.session_factory() as session:
        row = await open_quote(flows, session, customer_id, quote_id, "sell")
        customer = await authorise(flows, session, customer_id, pin)
        identity.assert_withdrawals_allowed(customer, clock=flows.rt.clock)
        asset = Asset(row.asset)
        payout_minor = row.payout_minor if row.payout_minor is not None else row.receive_minor
        payout_amount = Money.from_minor(payout_minor, Asset.KES)
        pay = Money.from_minor(row.pay_minor, asset)
        check = MovementCheck(
            customer_id, "sell", pay, payout_amount, reference=idempotency_key
        )  # the payout's key
        await gate(flows, session, check)
        crypto_account = await accounts.wallet_account_id(session, customer_id, asset)
        kes_account = await accounts.wallet_account_id(session, customer_id, Asset.KES)
        await quotes.execute_quote(
            session=session,
            quote_id=row.id,
            pay_account_id=crypto_account,
            receive_account_id=kes_account,
            idempotency_key=idempotency_key,
            clock=flows.rt.clock,
        )
        payout = await payments.create_payout(
            session=session,
            idempotency_key=idempotency_key,
            account_id=kes_account,
            phone=customer.phone,
            amount=payout_amount,
            customer_id=customer_id,
            remarks="Kibeti sell",
            fee=_mpesa_fee(row),  # refunded with the principal if M-Pesa refuses the payout
        )
        await session.commit()
        return Receipt(reference=payout.id[:12], status="pending", amount=payout_amount)


def _mpesa_fee(row: Quote) -> Money:
    """The M-Pesa payout fee a sell quote charged (KES)."""
    minor = sum(int(line["minor"]) for line in row.fees if line.get("kind") == "mpesa")
    return Money.from_minor(minor, Asset.KES)


async def confirm_send(
    flows: CoreFlows, *, customer_id: int, quote_id: str, to_phone: str, pin: str, idempotency_key: str
) -> Receipt:
    async with flows.rt.session_factory() as session:
        sender = await authorise(flows, session, customer_id, pin)
        identity.assert_withdrawals_allowed(sender, clock=flows.rt.clock)  # a send is money out too
        if sender.phone == to_phone:
            raise SelfSend("cannot send to yourself")
        recipient = await identity.get_customer_by_phone(session=session, phone=to_phone)
        amount, row = await _send_amount(flows, session, customer_id, quote_id)
        kes_value = await accounts.limit_value(session, amount, flows.rt.clock)  # none fresh: refused
        await gate(
            flows, session, MovementCheck(customer_id, "send", amount, kes_value, counterparty=to_phone)
        )
        from_account = await accounts.wallet_account_id(session, customer_id, amount.asset)
        if recipient is None:
            to_account = await claims.claims_account_id(session, amount.asset)
        else:
            to_account = await accounts.wallet_account_id(session, recipient.id, amount.asset)
        if row is None:
            posted = await ledger.transfer(
                session=session,
                idempotency_key=f"send:{idempotency_key}",
                from_account_id=from_account,
                to_account_id=to_account,
                amount=amount,
                kind="send",
                memo=f"send to {to_phone[-4:]}",
                details={"to": to_phone, "from_customer": customer_id},
            )
            entry_id, replayed = posted.entry_id, posted.replayed
        else:
            execution = await quotes.execute_quote(
                session=session,
                quote_id=row.id,
                pay_account_id=from_account,
                receive_account_id=to_account,
                idempotency_key=idempotency_key,
                clock=flows.rt.clock,
            )
            entry_id, replayed = execution.entry_id, execution.replayed
            amount = Money.from_minor(row.receive_minor, Asset(row.receive_asset))
        claim_days = ""
        if recipient is None:
            claim = await claims.open_claim(
                session,
                sender_id=customer_id,
                phone=to_phone,
                amount=amount,
                key=idempotency_key,
                clock=flows.rt.clock,
            )
            claim_days = str(claims.CLAIM_DAYS)
            reference = f"CL{claim.id}"
        else:
            reference = f"KB{entry_id}"
        if recipient is not None and not replayed:
            await inbound.credit_arrived(  # the recipient's limits apply too: over one, it is held
                session=session, customer_id=recipient.id, account_id=to_account, amount=amount,
                kind=inbound.RECEIVE, counterparty=sender.phone, reference=f"send:{idempotency_key}",
            )  # fmt: skip
        await session.commit()
    await _send_notices(flows, sender, recipient, to_phone, amount, reference, idempotency_key)
    status = "claim" if recipient is None else "done"
    return Receipt(reference=reference, status=status, amount=amount, details={"claim_days": claim_days})


async def _send_amount(
    flows: CoreFlows, session: AsyncSession, customer_id: int, quote_id: str
) -> tuple[Money, Quote | None]:
    if quote_id.startswith(KES_SEND_PREFIX):
        return Money.from_minor(int(quote_id[len(KES_SEND_PREFIX) :]), Asset.KES), None
    row = await open_quote(flows, session, customer_id, quote_id, "send")
    return Money.from_minor(row.pay_minor, Asset(row.pay_asset)), row


async def _send_notices(
    flows: CoreFlows,
    sender: Customer,
    recipient: Customer | None,
    to_phone: str,
    amount: Money,
    reference: str,
    key: str,
) -> None:
    sender_name = sender.name.split(" ")[0][:20]
    shown = on_network(amount, sender.language)
    local = "0" + to_phone[4:] if to_phone.startswith("+254") else to_phone
    who = recipient.name[:24] if recipient is not None else local
    await flows.notify(
        phone=sender.phone, code="sms.send_receipt", language=sender.language, reference=f"{key}:sender",
        amount=shown, who=who, ref=reference,
    )  # fmt: skip
    if recipient is not None:
        await flows.notify(
            phone=recipient.phone, code="sms.receive_receipt", language=recipient.language,
            reference=f"{key}:recipient", amount=on_network(amount, recipient.language), who=sender_name,
            ref=reference,
        )  # fmt: skip
    else:
        await flows.notify(
            phone=to_phone, code="sms.invite", language="sw" if sender.language == "sw" else "en",
            reference=f"{key}:invite", sender=sender_name, amount=shown, days=str(claims.CLAIM_DAYS),
        )  # fmt: skip
