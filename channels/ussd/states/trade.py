"""Buy crypto with M-Pesa and sell crypto to M-Pesa: asset, amount, quote + PIN, done."""

from __future__ import annotations

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.screens import money
from channels.ussd.states.common import (
    CRYPTO_CHOICES,
    Explained,
    asset_of,
    balance_of,
    con,
    quote_screen,
    quote_to_data,
)
from core.errors import InvalidAmount
from core.money import Asset, Money, parse_amount
from core.quotes.errors import AmountTooSmall
from core.quotes.maths import MPESA_MIN


def _mpesa_minimum(ctx: Ctx) -> str:
    return money(Money.of(MPESA_MIN, Asset.KES), ctx.language)


def _choose(kind: str) -> State:
    async def render(ctx: Ctx) -> Screen:
        return con(ctx, ctx.t(f"ussd.{kind}.asset"))

    async def handle(ctx: Ctx, value: str) -> str:
        asset = CRYPTO_CHOICES.get(value)
        if asset is None:
            return ctx.fail("invalid_choice")
        ctx.data["asset"] = asset.value
        return f"{kind}.amount"

    return State(f"{kind}.asset", render, handle)


async def render_buy_amount(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.buy.amount", asset=asset_of(ctx).value))


async def handle_buy_amount(ctx: Ctx, value: str) -> str:
    try:
        amount = parse_amount(value, Asset.KES)
    except InvalidAmount:
        return ctx.fail("invalid_amount")
    if amount.amount < MPESA_MIN:
        return ctx.fail("amount_below_minimum", minimum=_mpesa_minimum(ctx))
    ctx.data["amount"] = str(amount.amount)
    ctx.data["amount_asset"] = Asset.KES.value
    ctx.data["describe"] = money(amount, ctx.language)
    ctx.data.pop("quote", None)
    return "buy.quote"


async def render_sell_amount(ctx: Ctx) -> Screen:
    asset = asset_of(ctx)
    balance = money(await balance_of(ctx, asset), ctx.language)
    return con(ctx, ctx.t("ussd.sell.amount", asset=asset.value, balance=balance))


async def handle_sell_amount(ctx: Ctx, value: str) -> str:
    asset = asset_of(ctx)
    try:
        amount = parse_amount(value, asset)
    except InvalidAmount:
        return ctx.fail("invalid_amount")
    if amount > await balance_of(ctx, asset):
        return ctx.fail("insufficient_funds")
    ctx.data["amount"] = str(amount.amount)
    ctx.data["amount_asset"] = asset.value
    ctx.data["describe"] = money(amount, ctx.language)
    ctx.data.pop("quote", None)
    return "sell.quote"


async def render_buy_quote(ctx: Ctx) -> Screen:
    if "quote" not in ctx.data:
        quote = await ctx.flows.quote_buy(
            customer_id=ctx.customer_id,
            asset=asset_of(ctx),
            kes_amount=Money.of(ctx.data["amount"], Asset.KES),
        )
        quote_to_data(ctx, quote)
    return quote_screen(ctx, "ussd.buy.quote")


async def handle_buy_quote(ctx: Ctx, value: str) -> str | Screen:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    quote = ctx.data["quote"]
    await ctx.flows.confirm_buy(
        customer_id=ctx.customer_id, quote_id=quote["id"], pin=value, idempotency_key=ctx.op_key("buy")
    )
    ctx.data["done"] = True
    return ctx.end("ussd.buy.done", pay=quote["pay"], get=quote["get"])


async def render_sell_quote(ctx: Ctx) -> Screen:
    if "quote" not in ctx.data:
        amount = Money.of(ctx.data["amount"], asset_of(ctx))
        try:
            quote = await ctx.flows.quote_sell(customer_id=ctx.customer_id, amount=amount)
        except AmountTooSmall as exc:  # what M-Pesa would pay out is under its minimum (or nothing)
            raise Explained("amount_below_payout_minimum", minimum=_mpesa_minimum(ctx)) from exc
        quote_to_data(ctx, quote)
    return quote_screen(ctx, "ussd.sell.quote")


async def handle_sell_quote(ctx: Ctx, value: str) -> str | Screen:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    quote = ctx.data["quote"]
    await ctx.flows.confirm_sell(
        customer_id=ctx.customer_id, quote_id=quote["id"], pin=value, idempotency_key=ctx.op_key("sell")
    )
    ctx.data["done"] = True
    return ctx.end("ussd.sell.done", get=quote["get"])


STATES = [
    _choose("buy"),
    State("buy.amount", render_buy_amount, handle_buy_amount, resumable=True),
    State("buy.quote", render_buy_quote, handle_buy_quote, resumable=True, secret=True),
    _choose("sell"),
    State("sell.amount", render_sell_amount, handle_sell_amount, resumable=True),
    State("sell.quote", render_sell_quote, handle_sell_quote, resumable=True, secret=True),
]
