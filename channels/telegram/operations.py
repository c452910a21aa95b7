"""The customer's operations in chat, each the same core use case USSD calls (CustomerFlows):
balances, buy (STK push), sell to M-Pesa, send to a phone, receive (address + QR), withdraw to a
pasted address, statement, rates, KYC status and limits, change PIN.

A money operation gathers its inputs step by step, shows a quote (with its expiry, Refresh and
Cancel buttons tagged with a fresh token) and waits for the PIN at `<op>.pin`. A button whose token
is not the current one, or a quote past its expiry, is answered "this offer expired": nothing moves.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from telegram import InputFile
from telegram.constants import ParseMode
from telegram.error import TelegramError

from channels.telegram import qr, texts
from channels.telegram.conversation import Step, Turn, looks_like_pin
from core.errors import InvalidAmount, KibetiError
from core.flows.errors import AmountOverLimit
from core.flows.types import BalanceLine, CustomerFlows, QuoteView, Receipt
from core.i18n.catalog import has
from core.money import Asset, Money, parse_amount
from core.quotes.errors import AmountTooLarge, AmountTooSmall, QuoteExpired
from core.quotes.maths import MPESA_MAX, MPESA_MIN
from core.telegram.flows import LinkedCustomer

QUOTED_OPS = ("buy", "sell", "send", "wd")
STATEMENT_SIZE = 50
PAGE = 5
TRANSFER_KINDS = frozenset({"send", "quote_send", "claim_collect"})  # customer to customer, as on USSD
KES_FORMAT = "amount_format_kes_any"  # a KES amount not understood: "like 500 or 100.50" (as USSD)
KES_WHOLE = "amount_format_kes_whole"  # where M-Pesa moves the amount: whole shillings only


class Refusal(KibetiError):
    """A step's own refusal: `error.<code>` with its values."""

    def __init__(self, code: str, **values: str) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


def _kes(value: Any, language: str) -> str:
    return texts.money(Money.of(str(value), Asset.KES), language)


def _parse(value: str, asset: Asset, kes_error: str = KES_FORMAT) -> Money:
    try:
        return parse_amount(value, asset)
    except InvalidAmount as exc:
        raise Refusal(kes_error if asset is Asset.KES else "amount_format_crypto") from exc


async def _balance(flows: CustomerFlows, customer_id: int, asset: Asset) -> Money:
    lines: list[BalanceLine] = await flows.balances(customer_id=customer_id)
    return next((line.amount for line in lines if line.asset is asset), Money.zero(asset))


async def _check(turn: Turn, kind: str, amount: Money) -> None:
    """What would refuse `amount` at the PIN, told now (a limit names the most allowed)."""
    try:
        await turn.flows.check_amount(customer_id=turn.customer_id, kind=kind, amount=amount)
    except AmountOverLimit as exc:
        step = f"ussd.kyc.next.{getattr(exc, 'next_step', '')}"
        how = " " + turn.t(step) if getattr(exc, "next_step", "") and has(step) else ""
        raise Refusal(exc.code, max=exc.values.get("max", ""), how=how) from exc


# --- read-only ---------------------------------------------------------------------------------


async def balances_text(flows: CustomerFlows, customer: LinkedCustomer) -> str:
    language = customer.language
    lines = [texts.t("telegram.balances.title", language)]
    for line in await flows.balances(customer_id=customer.customer_id):
        amount = texts.money(line.amount, language)
        if line.kes_value is not None and line.asset.currency != "KES":
            kes = texts.money(line.kes_value, language)
            lines.append(
                texts.t(
                    "telegram.balances.line_kes", language, asset=line.asset.value, amount=amount, kes=kes
                )
            )
        else:
            lines.append(texts.t("telegram.balances.line", language, asset=line.asset.value, amount=amount))
    return "\n".join(lines)


async def rates_text(flows: CustomerFlows, language: str) -> str:
    rates = await flows.rates()
    none = texts.t("telegram.rates.none", language)
    lines = [texts.t("telegram.rates.title", language)]
    for rate in rates:
        buy = texts.money(rate.buy, language) if rate.buy is not None else none
        sell = texts.money(rate.sell, language) if rate.sell is not None else none
        lines.append(texts.t("telegram.rates.line", language, asset=rate.asset.value, buy=buy, sell=sell))
    if any(rate.demo for rate in rates):
        lines.append(texts.t("telegram.rates.demo", language))
    return "\n".join(lines)


async def kyc_text(turn: Turn) -> str:
    status = await turn.flows.account_status(customer_id=turn.customer_id)
    lang = turn.language
    unset = turn.t("ussd.unlimited")

    def limit(value: Money | None) -> str:
        return texts.money(value, lang) if value is not None else unset

    lines = [
        turn.t("telegram.kyc.title"),
        turn.t(
            "telegram.kyc.status", status=turn.t(f"ussd.kyc.status.{status.kyc_status}"), tier=status.tier
        ),
        turn.t("telegram.kyc.per_tx", limit=limit(status.per_transaction)),
        turn.t(
            "telegram.kyc.daily", limit=limit(status.daily_limit), used=texts.money(status.used_today, lang)
        ),
    ]
    if status.monthly_limit is not None:
        used = texts.money(status.used_this_month or Money.zero(Asset.KES), lang)
        lines.append(turn.t("telegram.kyc.monthly", limit=limit(status.monthly_limit), used=used))
    if status.crypto_withdrawal_limit is not None:
        lines.append(turn.t("telegram.kyc.withdraw", limit=limit(status.crypto_withdrawal_limit)))
    step = f"ussd.kyc.next.{status.next_step}"
    if status.next_step and has(step):
        lines.append(turn.t(step))
    return "\n".join(lines)


def _kind_label(turn: Turn, kind: str, amount: Money) -> str:
    """A movement's label as on the USSD statement and the app's history: a transfer between
    customers by its direction (sent / received), else the kind's own label (the kind if none)."""
    if kind in TRANSFER_KINDS:
        kind = "received" if amount.amount >= 0 else "sent"
    code = f"ussd.kind.{kind}"
    return turn.t(code) if has(code) else kind


async def statement(turn: Turn, page: int) -> None:
    lines = await turn.flows.mini_statement(customer_id=turn.customer_id, limit=STATEMENT_SIZE)
    if not lines:
        await turn.say(turn.t("ussd.statement.empty"), texts.back_keyboard(turn.language))
        return
    pages = -(-len(lines) // PAGE)
    page = min(max(page, 0), pages - 1)
    body = [turn.t("telegram.statement.title", page=page + 1, pages=pages)]
    for line in lines[page * PAGE : (page + 1) * PAGE]:
        label = _kind_label(turn, line.kind, line.amount)
        sign = "+" if line.amount.is_positive() else "-"
        amount = texts.money(line.amount if line.amount.is_positive() else -line.amount, turn.language)
        body.append(f"{texts.local_time(line.at)}  {sign}{amount}  {label}")
    await turn.say("\n".join(body), texts.statement_keyboard(page, pages, turn.language))


async def receive(turn: Turn, asset: Asset) -> None:
    """The deposit address as text (tap to copy) and as a QR image; the network named in bold. No
    SMS or Telegram notice repeats it: this reply is the address."""
    address = await turn.flows.deposit_address(
        customer_id=turn.customer_id, asset=asset, idempotency_key=f"tg:{turn.user_id}:recv:{asset.value}",
        notify=False,
    )  # fmt: skip
    network = texts.NETWORK_NAMES[asset]
    caption = turn.t(
        "telegram.receive.caption", asset=texts.asset_label(asset), network=texts.bold(network),
        address=texts.code_html(address),
    )  # fmt: skip
    if getattr(address, "demo", False):
        caption += "\n" + turn.t("telegram.receive.demo")
    image = InputFile(qr.png(qr.payload(asset, address)), filename="address.png")
    try:
        await turn.context.bot.send_photo(
            chat_id=turn.chat_id, photo=image, caption=caption, parse_mode=ParseMode.HTML,
            reply_markup=texts.back_keyboard(turn.language),
        )  # fmt: skip
    except TelegramError:  # the photo failed: the address alone still lets them be paid
        await turn.say(caption, texts.back_keyboard(turn.language), html=True)


# --- choosing what -----------------------------------------------------------------------------


async def begin(turn: Turn, op: str) -> None:
    turn.end()
    await turn.say(turn.t(f"telegram.{op}.asset"), texts.asset_keyboard(op, turn.language))


async def asset_chosen(turn: Turn, op: str, asset: Asset) -> None:
    turn.end()
    if op == "recv":
        await receive(turn, asset)
        return
    if op == "buy":
        turn.goto("buy.amount", asset=asset.value)
        await turn.say(
            turn.t(
                "telegram.buy.amount", asset=texts.asset_label(asset), minimum=_kes(MPESA_MIN, turn.language)
            )
        )
        return
    balance = texts.money(await _balance(turn.flows, turn.customer_id, asset), turn.language)
    if op == "sell":
        turn.goto("sell.amount", asset=asset.value)
        await turn.say(turn.t("telegram.sell.amount", asset=texts.asset_label(asset), balance=balance))
    elif op == "send":
        turn.goto("send.phone", asset=asset.value)
        await turn.say(turn.t("telegram.send.phone"))
    elif op == "wd":
        await _check(turn, "withdraw", Money.zero(asset))  # a tier without withdrawals, a lock, the cool-down
        turn.goto("wd.address", asset=asset.value)
        await turn.say(
            turn.t("telegram.withdraw.address", network=texts.bold(texts.NETWORK_NAMES[asset])), html=True
        )


def _asset(turn: Turn) -> Asset:
    return Asset(turn.data["asset"])


# --- gathering the inputs ------------------------------------------------------------------------


async def buy_amount(turn: Turn, value: str) -> None:
    amount = _parse(value, Asset.KES, KES_WHOLE)  # M-Pesa moves whole shillings
    if amount.amount != amount.amount.to_integral_value():
        raise Refusal(KES_WHOLE)
    if amount.amount < MPESA_MIN:
        raise Refusal("amount_below_minimum", minimum=_kes(MPESA_MIN, turn.language))
    if amount.amount > MPESA_MAX:
        raise Refusal("amount_over_max", max=_kes(MPESA_MAX, turn.language), how="")
    await _check(turn, "buy", amount)
    turn.data["amount"] = str(amount.amount)
    await show_quote(turn, "buy")


async def sell_amount(turn: Turn, value: str) -> None:
    asset = _asset(turn)
    amount = _parse(value, asset)
    if amount > await _balance(turn.flows, turn.customer_id, asset):
        raise Refusal("insufficient_funds")
    await _check(turn, "sell", amount)
    turn.data["amount"] = str(amount.amount)
    await show_quote(turn, "sell")


async def send_phone(turn: Turn, value: str) -> None:
    recipient = await turn.flows.find_recipient(customer_id=turn.customer_id, phone_text=value[:32])
    turn.data["to"] = recipient.phone
    turn.data["name"] = recipient.name or ""
    asset = _asset(turn)
    balance = texts.money(await _balance(turn.flows, turn.customer_id, asset), turn.language)
    who = recipient.name or turn.t("telegram.send.unregistered")
    turn.state = "send.amount"
    await turn.say(
        turn.t("telegram.send.amount", name=who, phone=recipient.phone, asset=asset.value, balance=balance)
    )


async def send_amount(turn: Turn, value: str) -> None:
    asset = _asset(turn)
    amount = _parse(value, asset)
    if amount > await _balance(turn.flows, turn.customer_id, asset):
        raise Refusal("insufficient_funds")
    await _check(turn, "send", amount)
    turn.data["amount"] = str(amount.amount)
    await show_quote(turn, "send")


async def withdraw_address(turn: Turn, value: str) -> None:
    asset = _asset(turn)
    address = await turn.links.withdrawal_address(customer_id=turn.customer_id, asset=asset, address=value)
    turn.data["address"] = address
    turn.state = "wd.amount"
    balance = texts.money(await _balance(turn.flows, turn.customer_id, asset), turn.language)
    await turn.say(
        turn.t(
            "telegram.withdraw.amount",
            address=texts.code_html(address),
            currency=asset.currency,
            balance=balance,
        ),
        html=True,
    )


async def withdraw_amount(turn: Turn, value: str) -> None:
    asset = _asset(turn)
    amount = _parse(value, asset)
    if amount > await _balance(turn.flows, turn.customer_id, asset):
        raise Refusal("insufficient_funds")
    await _check(turn, "withdraw", amount)
    turn.data["amount"] = str(amount.amount)
    await show_quote(turn, "wd")


# --- quotes ----------------------------------------------------------------------------------------


async def _quote(turn: Turn, op: str) -> QuoteView:
    asset, flows, customer_id = _asset(turn), turn.flows, turn.customer_id
    try:
        if op == "buy":
            kes = Money.of(turn.data["amount"], Asset.KES)
            return await flows.quote_buy(customer_id=customer_id, asset=asset, kes_amount=kes)
        amount = Money.of(turn.data["amount"], asset)
        if op == "sell":
            return await flows.quote_sell(customer_id=customer_id, amount=amount)
        if op == "send":
            return await flows.quote_send(customer_id=customer_id, to_phone=turn.data["to"], amount=amount)
        return await flows.quote_withdraw(
            customer_id=customer_id, amount=amount, address=turn.data["address"]
        )
    except AmountTooSmall as exc:
        if op == "sell":
            raise Refusal("amount_below_payout_minimum", minimum=_kes(MPESA_MIN, turn.language)) from exc
        raise Refusal("amount_below_fee") from exc
    except AmountTooLarge as exc:
        raise Refusal("amount_over_max", max=_kes(MPESA_MAX, turn.language), how="") from exc


def _quote_values(turn: Turn, op: str) -> dict[str, str]:
    if op == "send":
        return {
            "name": turn.data.get("name") or turn.t("telegram.send.unregistered"),
            "phone": turn.data["to"],
        }
    if op == "wd":
        asset = _asset(turn)
        return {
            "address": texts.code_html(turn.data["address"]),
            "network": texts.bold(texts.NETWORK_NAMES[asset]),
        }
    return {}


async def show_quote(turn: Turn, op: str) -> None:
    quote = await _quote(turn, op)
    token = turn.new_token()
    turn.data.update(
        quote=quote.id, expires=quote.expires_at.isoformat(), get=texts.money(quote.receive, turn.language)
    )
    turn.state = f"{op}.pin"
    text = texts.quote_text(
        f"telegram.{op}.quote", quote, turn.language, turn.now(), **_quote_values(turn, op)
    )
    message = await turn.say(text, texts.quote_keyboard(token, turn.language), html=op == "wd")
    turn.data["msg"] = message.message_id


async def _drop_buttons(turn: Turn) -> None:
    message_id = turn.data.get("msg")
    if not isinstance(message_id, int):
        return
    with contextlib.suppress(TelegramError):  # already edited or gone
        await turn.context.bot.edit_message_reply_markup(chat_id=turn.chat_id, message_id=message_id)


def quote_pending(turn: Turn, token: str) -> bool:
    """Whether `token` is the live quote's: the user is at its PIN step and nothing newer replaced it."""
    op = turn.state.removesuffix(".pin")
    return turn.state.endswith(".pin") and op in QUOTED_OPS and turn.data.get("token") == token


async def refresh(turn: Turn) -> None:
    op = turn.state.removesuffix(".pin")
    await _drop_buttons(turn)
    await show_quote(turn, op)


async def cancel(turn: Turn) -> None:
    await _drop_buttons(turn)
    turn.end()
    await turn.say(turn.t("telegram.cancelled"), texts.menu_keyboard(turn.language))


def _expired(turn: Turn) -> bool:
    expires = datetime.fromisoformat(str(turn.data.get("expires")))
    now: datetime = turn.now()
    return now >= expires


async def _offer_expired(turn: Turn) -> None:
    await _drop_buttons(turn)
    token = turn.new_token()
    message = await turn.say(turn.t("telegram.expired_offer"), texts.refresh_keyboard(token, turn.language))
    turn.data["msg"] = message.message_id


async def quote_pin(turn: Turn, value: str) -> None:
    """The PIN for the quote on screen (the message is already deleted)."""
    op = turn.state.removesuffix(".pin")
    if not looks_like_pin(value):
        raise Refusal("invalid_pin")
    if _expired(turn):
        await _offer_expired(turn)
        return
    key = f"tg:{turn.user_id}:{op}:{turn.data['token']}"
    flows, customer_id, quote_id = turn.flows, turn.customer_id, turn.data["quote"]
    try:
        if op == "buy":
            receipt = await flows.confirm_buy(
                customer_id=customer_id, quote_id=quote_id, pin=value, idempotency_key=key
            )
        elif op == "sell":
            receipt = await flows.confirm_sell(
                customer_id=customer_id, quote_id=quote_id, pin=value, idempotency_key=key
            )
        elif op == "send":
            receipt = await flows.confirm_send(
                customer_id=customer_id,
                quote_id=quote_id,
                to_phone=turn.data["to"],
                pin=value,
                idempotency_key=key,
            )
        else:
            receipt = await flows.confirm_withdraw(
                customer_id=customer_id, quote_id=quote_id, address=turn.data["address"], pin=value,
                idempotency_key=key,
            )  # fmt: skip
    except QuoteExpired:
        await _offer_expired(turn)
        return
    await _drop_buttons(turn)
    text = _receipt_text(turn, op, receipt)
    turn.end()
    await turn.say(text, texts.menu_keyboard(turn.language), html=op == "wd")


def _receipt_text(turn: Turn, op: str, receipt: Receipt) -> str:
    # what the quote said arrives (a buy's receipt carries the KES paid; the customer was told the crypto)
    get = str(turn.data.get("get") or texts.money(receipt.amount, turn.language))
    if op == "buy":
        if receipt.status == "link":  # card / Airtel Money: the payment link went by SMS, no M-Pesa prompt
            return turn.t("ussd.buy.done_link", pay=texts.money(receipt.amount, turn.language), get=get)
        return turn.t(
            "telegram.buy.done" if receipt.status != "done" else "telegram.buy.done_wallet",
            get=get,
            ref=receipt.reference,
        )
    if op == "sell":
        return turn.t("telegram.sell.done", get=get, ref=receipt.reference)
    if op == "send":
        name = turn.data.get("name") or turn.data["to"]
        code = "telegram.send.done_claim" if receipt.status == "claim" else "telegram.send.done"
        return turn.t(code, get=get, name=name, ref=receipt.reference)
    network = texts.NETWORK_NAMES[_asset(turn)]
    address = receipt.details.get("address", turn.data.get("address", ""))
    return turn.t(
        "telegram.withdraw.done", get=get, address=texts.code_html(address), network=texts.bold(network),
        ref=receipt.reference,
    )  # fmt: skip


# --- change PIN --------------------------------------------------------------------------------


async def pin_old(turn: Turn, value: str) -> None:
    if not looks_like_pin(value):
        raise Refusal("invalid_pin")
    await turn.flows.check_pin(customer_id=turn.customer_id, pin=value)
    turn.scratch.keep(turn.user_id, "old", value)
    turn.state = "pin.new"
    await turn.say(turn.t("telegram.pin.new"))


async def pin_new(turn: Turn, value: str) -> None:
    if not looks_like_pin(value):
        raise Refusal("invalid_pin")
    customer = turn.customer
    assert customer is not None
    await turn.flows.check_new_pin(phone=customer.phone, pin=value)
    turn.scratch.keep(turn.user_id, "new", value)
    turn.state = "pin.confirm"
    await turn.say(turn.t("telegram.pin.confirm"))


async def pin_confirm(turn: Turn, value: str) -> None:
    new = turn.scratch.take(turn.user_id, "new")
    old = turn.scratch.take(turn.user_id, "old")
    if new is None or old is None:  # another process, or too slow: start again
        turn.end()
        await turn.say(turn.t("telegram.pin.again"), texts.menu_keyboard(turn.language))
        return
    if value != new:
        turn.scratch.keep(turn.user_id, "old", old)
        turn.state = "pin.new"
        raise Refusal("pin_mismatch")
    await turn.flows.change_pin(customer_id=turn.customer_id, old_pin=old, new_pin=new)
    turn.end()
    await turn.say(turn.t("telegram.pin.changed"), texts.menu_keyboard(turn.language))


async def begin_pin_change(turn: Turn) -> None:
    turn.scratch.forget(turn.user_id)
    turn.goto("pin.old")
    await turn.say(turn.t("telegram.pin.old"))


STEPS = [
    Step("buy.amount", buy_amount),
    Step("sell.amount", sell_amount),
    Step("send.phone", send_phone),
    Step("send.amount", send_amount),
    Step("wd.address", withdraw_address),
    Step("wd.amount", withdraw_amount),
    *(Step(f"{op}.pin", quote_pin, secret=True) for op in QUOTED_OPS),
    Step("pin.old", pin_old, secret=True),
    Step("pin.new", pin_new, secret=True),
    Step("pin.confirm", pin_confirm, secret=True),
]
