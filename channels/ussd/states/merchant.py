"""Pay a merchant (Send -> 3): till code -> the merchant's registered name -> amount in KES -> pay
from the KES balance or a crypto balance (a locked quote) -> PIN. "No merchant with till 12345"
asks again and moves nothing; a till that is not digits ("12a") is told it must be digits."""

from __future__ import annotations

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.screens import money
from channels.ussd.states import amounts
from channels.ussd.states.common import SEND_CHOICES, Explained, balance_of, con, quote_to_data
from core.money import Asset, Money
from core.quotes.errors import AmountTooSmall


def _name(ctx: Ctx) -> str:
    return str(ctx.data.get("merchant_name", ""))[:24]


async def render_till(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.merchant.till"))


async def handle_till(ctx: Ctx, value: str) -> str:
    till = value.strip()
    if not (till.isascii() and till.isdigit()):  # "12a" is a typo, not an unknown merchant
        return ctx.fail("merchant_till_digits")
    merchant = await ctx.flows.find_merchant(till=till)
    ctx.data["till"] = merchant.till_code
    ctx.data["merchant_name"] = merchant.name
    return "merchant.amount"


async def render_amount(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.merchant.amount", name=_name(ctx), till=ctx.data.get("till", "")))


async def handle_amount(ctx: Ctx, value: str) -> str:
    amount = amounts.parse(value, Asset.KES)
    if amount is None:
        return ctx.fail(amounts.format_error(Asset.KES))
    await amounts.check(ctx, "send", amount)
    ctx.data["amount"] = str(amount.amount)
    ctx.data["describe"] = f"{money(amount, ctx.language)} -> {_name(ctx)}"
    ctx.data.pop("quote", None)
    return "merchant.source"


async def render_source(ctx: Ctx) -> Screen:
    amount = Money.of(ctx.data["amount"], Asset.KES)
    balance = money(await balance_of(ctx, Asset.KES), ctx.language)
    return con(ctx, ctx.t("ussd.merchant.source", amount=money(amount, ctx.language), balance=balance))


async def handle_source(ctx: Ctx, value: str) -> str:
    asset = SEND_CHOICES.get(value)
    if asset is None:
        return ctx.fail("invalid_choice")
    amount = Money.of(ctx.data["amount"], Asset.KES)
    if asset is Asset.KES and amount > await balance_of(ctx, Asset.KES):
        return ctx.fail("insufficient_funds")
    ctx.data["asset"] = asset.value
    ctx.data.pop("quote", None)
    return "merchant.confirm"


async def render_confirm(ctx: Ctx) -> Screen:
    asset = Asset(ctx.data["asset"])
    amount = Money.of(ctx.data["amount"], Asset.KES)
    if "quote" not in ctx.data:
        try:
            quote = await ctx.flows.quote_pay_merchant(
                customer_id=ctx.customer_id, till=ctx.data["till"], amount=amount, asset=asset
            )
        except AmountTooSmall as exc:
            raise Explained("amount_below_fee") from exc
        quote_to_data(ctx, quote)
    q = ctx.data["quote"]
    values = {"amount": money(amount, ctx.language), "name": _name(ctx), "till": ctx.data["till"]}
    if asset is Asset.KES:
        return Screen(ctx.t("ussd.merchant.confirm", **values))
    rate = q["rate"] + (f" ({ctx.t('ussd.quote.demo')})" if q.get("demo") else "")
    return Screen(
        ctx.t("ussd.merchant.confirm_crypto", pay=q["pay"], rate=rate, seconds=q["seconds"], **values)
    )


async def handle_confirm(ctx: Ctx, value: str) -> str | Screen:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    receipt = await ctx.flows.confirm_pay_merchant(
        customer_id=ctx.customer_id,
        till=ctx.data["till"],
        quote_id=ctx.data["quote"]["id"],
        pin=value,
        idempotency_key=ctx.op_key("merchant"),
    )
    ctx.data["done"] = True
    return ctx.end(
        "ussd.merchant.done",
        amount=money(receipt.amount, ctx.language),
        name=_name(ctx),
        ref=receipt.reference,
    )


STATES = [
    State("merchant.pay", render_till, handle_till),
    State("merchant.amount", render_amount, handle_amount),
    State("merchant.source", render_source, handle_source, resumable=True),
    State("merchant.confirm", render_confirm, handle_confirm, resumable=True, secret=True),
]
