"""Withdraw crypto to a saved address (issue 19): pick "1 Binance TRC20 (...Q7x9)", an amount, the
quote with the withdrawal and network fees, PIN. A feature phone never types an address: they are
saved (validated and screened) on Telegram, the web portal or by staff (`kibeti address save`)."""

from __future__ import annotations

from typing import Any

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.parser import MORE
from channels.ussd.screens import money, paginate
from channels.ussd.states import amounts
from channels.ussd.states.common import Explained, balance_of
from core.money import Asset, Money
from core.quotes.errors import AmountTooSmall

NETWORKS = {Asset.BTC: "BTC", Asset.USDT_ERC20: "ERC20", Asset.USDT_TRC20: "TRC20"}


def _target(ctx: Ctx) -> dict[str, Any]:
    return dict(ctx.data["to"])


def _named(ctx: Ctx) -> dict[str, str]:
    to = _target(ctx)
    return {"label": to["label"], "network": NETWORKS[Asset(to["asset"])], "tail": to["address"][-4:]}


async def render_pick(ctx: Ctx) -> Screen:
    book = await ctx.flows.saved_addresses(customer_id=ctx.customer_id)
    if not book:
        return ctx.end("ussd.withdraw.none")
    ctx.data["book"] = [
        {"id": a.id, "label": a.label, "asset": a.asset.value, "address": a.address} for a in book
    ]
    lines = [f"{n} {a.label} {NETWORKS[a.asset]} (...{a.address[-4:]})" for n, a in enumerate(book, start=1)]
    page = int(ctx.data.get("page", 0))
    text, has_more = paginate(
        ctx.t("ussd.withdraw.pick"), lines, page, more=ctx.t("ussd.nav.more"), back=ctx.t("ussd.nav.back")
    )
    ctx.data["has_more"] = has_more
    return Screen(text)


async def handle_pick(ctx: Ctx, value: str) -> str:
    if value == MORE and ctx.data.get("has_more"):
        ctx.data["page"] = int(ctx.data.get("page", 0)) + 1
        return ctx.session.state
    book = ctx.data.get("book", [])
    if not (value.isdigit() and 1 <= int(value) <= len(book)):
        return ctx.fail("invalid_choice")
    to = book[int(value) - 1]
    asset = Asset(to["asset"])
    await amounts.check(ctx, "withdraw", Money.zero(asset))  # a PIN lock or a tier without withdrawals
    ctx.data["kind"] = "withdraw"
    ctx.data["to"] = to
    ctx.data["asset"] = asset.value
    return "withdraw.amount"


async def render_amount(ctx: Ctx) -> Screen:
    asset = Asset(ctx.data["asset"])
    balance = money(await balance_of(ctx, asset), ctx.language)
    return Screen(ctx.t("ussd.withdraw.amount", balance=balance, currency=asset.currency, **_named(ctx)))


async def handle_amount(ctx: Ctx, value: str) -> str:
    asset = Asset(ctx.data["asset"])
    amount = amounts.parse(value, asset)
    if amount is None:
        return ctx.fail(amounts.format_error(asset))
    if amount > await balance_of(ctx, asset):
        return ctx.fail("insufficient_funds")
    await amounts.check(ctx, "withdraw", amount)
    ctx.data["amount"] = str(amount.amount)
    ctx.data["describe"] = f"{money(amount, ctx.language)} -> {_target(ctx)['label']}"
    ctx.data.pop("quote", None)
    return "withdraw.confirm"


async def render_confirm(ctx: Ctx) -> Screen:
    if "quote" not in ctx.data:
        amount = Money.of(ctx.data["amount"], Asset(ctx.data["asset"]))
        try:
            quote = await ctx.flows.quote_withdraw(
                customer_id=ctx.customer_id, amount=amount, address=_target(ctx)["address"]
            )
        except AmountTooSmall as exc:  # the fees would take all of it
            raise Explained("amount_below_fee") from exc
        lang = ctx.language
        ctx.data["quote"] = {
            "id": quote.id, "pay": money(quote.pay, lang), "get": money(quote.receive, lang),
            "fee": money(quote.fee, lang),
        }  # fmt: skip
    q = ctx.data["quote"]
    return Screen(ctx.t("ussd.withdraw.confirm", pay=q["pay"], get=q["get"], fee=q["fee"], **_named(ctx)))


async def handle_confirm(ctx: Ctx, value: str) -> str | Screen:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    q = ctx.data["quote"]
    await ctx.flows.confirm_withdraw(
        customer_id=ctx.customer_id, quote_id=q["id"], address=_target(ctx)["address"], pin=value,
        idempotency_key=ctx.op_key("withdraw"),
    )  # fmt: skip
    ctx.data["done"] = True
    named = _named(ctx)
    return ctx.end("ussd.withdraw.done", get=q["get"], label=named["label"], tail=named["tail"])


STATES = [
    State("withdraw.pick", render_pick, handle_pick),
    State("withdraw.amount", render_amount, handle_amount, resumable=True),
    State("withdraw.confirm", render_confirm, handle_confirm, resumable=True, secret=True),
]
