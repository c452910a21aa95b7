"""Cash out ("Toa pesa", issue 19): the KES balance to the customer's own M-Pesa, fee shown before
the PIN, through core's cash-out use case (the sell path's B2C payout pipeline)."""

from __future__ import annotations

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.screens import local_phone, money
from channels.ussd.states import amounts
from channels.ussd.states.common import Explained, balance_of
from core.money import Asset, Money
from core.payments.limits import B2C_MIN
from core.quotes.errors import AmountTooSmall


async def render_amount(ctx: Ctx) -> Screen:
    most = await ctx.flows.cashout_maximum(customer_id=ctx.customer_id)
    if not most.is_positive():
        balance = money(await balance_of(ctx, Asset.KES), ctx.language)
        return ctx.end("ussd.cashout.none", balance=balance, minimum=money(B2C_MIN, ctx.language))
    return Screen(ctx.t("ussd.cashout.amount", max=money(most, ctx.language)))


async def handle_amount(ctx: Ctx, value: str) -> str:
    amount = amounts.parse(value, Asset.KES)
    if amount is None:
        return ctx.fail(amounts.KES_FORMAT)
    await amounts.check(ctx, "withdraw", amount)
    ctx.data["amount"] = str(amount.amount)
    ctx.data["describe"] = money(amount.whole_units(), ctx.language)
    ctx.data.pop("quote", None)
    return "cashout.confirm"


def _kes(ctx: Ctx, key: str) -> Money:
    return Money.of(ctx.data["quote"][key], Asset.KES)


async def render_confirm(ctx: Ctx) -> Screen:
    if "quote" not in ctx.data:
        amount = Money.of(ctx.data["amount"], Asset.KES)
        try:
            quote = await ctx.flows.quote_cashout(customer_id=ctx.customer_id, amount=amount)
        except AmountTooSmall as exc:
            raise Explained("amount_below_payout_minimum", minimum=money(B2C_MIN, ctx.language)) from exc
        ctx.data["quote"] = {
            "amount": str(quote.amount.amount), "fee": str(quote.fee.amount), "left": str(quote.left.amount),
            "phone": quote.phone,
        }  # fmt: skip
    lang = ctx.language
    return Screen(
        ctx.t(
            "ussd.cashout.confirm",
            amount=money(_kes(ctx, "amount"), lang),
            fee=money(_kes(ctx, "fee"), lang),
            after=money(_kes(ctx, "left"), lang),
            phone=local_phone(ctx.data["quote"]["phone"]),
        )
    )


async def handle_confirm(ctx: Ctx, value: str) -> str | Screen:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    receipt = await ctx.flows.confirm_cashout(
        customer_id=ctx.customer_id, amount=_kes(ctx, "amount"), fee=_kes(ctx, "fee"), pin=value,
        idempotency_key=ctx.op_key("cashout"),
    )  # fmt: skip
    ctx.data["done"] = True
    return ctx.end("ussd.cashout.done", amount=money(receipt.amount, ctx.language))


STATES = [
    State("cashout.amount", render_amount, handle_amount, resumable=True),
    State("cashout.confirm", render_confirm, handle_confirm, resumable=True, secret=True),
]
