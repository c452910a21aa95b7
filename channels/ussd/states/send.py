"""Send KES or crypto to a phone number; an unregistered recipient gets an SMS and a claim window."""

from __future__ import annotations

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.screens import local_phone, money
from channels.ussd.states import amounts
from channels.ussd.states.common import SEND_CHOICES, Explained, asset_of, balance_of, con
from core.money import Asset, Money
from core.quotes.errors import AmountTooSmall

CLAIM_DAYS_DEFAULT = 7


def _who(ctx: Ctx) -> str:
    name = ctx.data.get("to_name")
    return str(name)[:20] if name else local_phone(ctx.data["to_phone"])


async def render_phone(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.send.phone"))


async def handle_phone(ctx: Ctx, value: str) -> str:
    recipient = await ctx.flows.find_recipient(customer_id=ctx.customer_id, phone_text=value)
    ctx.data["to_phone"] = recipient.phone
    ctx.data["to_name"] = recipient.name
    return "send.asset"


async def render_asset(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.send.asset"))


async def handle_asset(ctx: Ctx, value: str) -> str:
    asset = SEND_CHOICES.get(value)
    if asset is None:
        return ctx.fail("invalid_choice")
    ctx.data["asset"] = asset.value
    return "send.amount"


async def render_amount(ctx: Ctx) -> Screen:
    asset = asset_of(ctx)
    balance = money(await balance_of(ctx, asset), ctx.language)
    return Screen(ctx.t("ussd.send.amount", asset=asset.value, who=_who(ctx), balance=balance))


async def handle_amount(ctx: Ctx, value: str) -> str:
    asset = asset_of(ctx)
    amount = amounts.parse(value, asset)
    if amount is None:
        return ctx.fail(amounts.format_error(asset))
    if amount > await balance_of(ctx, asset):
        return ctx.fail("insufficient_funds")
    await amounts.check(ctx, "send", amount)
    ctx.data["amount"] = str(amount.amount)
    ctx.data["describe"] = f"{money(amount, ctx.language)} -> {_who(ctx)}"
    ctx.data.pop("quote", None)
    return "send.confirm"


async def render_confirm(ctx: Ctx) -> Screen:
    if "quote" not in ctx.data:
        amount = Money.of(ctx.data["amount"], asset_of(ctx))
        try:
            quote = await ctx.flows.quote_send(
                customer_id=ctx.customer_id, to_phone=ctx.data["to_phone"], amount=amount
            )
        except AmountTooSmall as exc:  # the fees would take all of it
            raise Explained("amount_below_fee") from exc
        ctx.data["quote"] = {
            "id": quote.id,
            "pay": money(quote.pay, ctx.language),
            "amount": money(quote.receive, ctx.language),
            "fee": money(quote.fee, ctx.language),
        }
    q = ctx.data["quote"]
    phone = local_phone(ctx.data["to_phone"])
    if asset_of(ctx) is not Asset.KES:  # a fee comes off crypto sends: "You send 10.00, they get 9.95"
        values = {"pay": q["pay"], "amount": q["amount"], "fee": q["fee"], "phone": phone}
        if ctx.data.get("to_name"):
            return Screen(ctx.t("ussd.send.confirm_crypto", name=str(ctx.data["to_name"])[:30], **values))
        return Screen(ctx.t("ussd.send.confirm_crypto_new", days=CLAIM_DAYS_DEFAULT, **values))
    if ctx.data.get("to_name"):
        name = str(ctx.data["to_name"])[:30]
        return Screen(ctx.t("ussd.send.confirm", amount=q["amount"], name=name, phone=phone, fee=q["fee"]))
    return Screen(
        ctx.t("ussd.send.confirm_new", amount=q["amount"], phone=phone, days=CLAIM_DAYS_DEFAULT, fee=q["fee"])
    )


async def handle_confirm(ctx: Ctx, value: str) -> str | Screen:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    q = ctx.data["quote"]
    receipt = await ctx.flows.confirm_send(
        customer_id=ctx.customer_id,
        quote_id=q["id"],
        to_phone=ctx.data["to_phone"],
        pin=value,
        idempotency_key=ctx.op_key("send"),
    )
    ctx.data["done"] = True
    phone = local_phone(ctx.data["to_phone"])
    if receipt.status == "claim":
        days = receipt.details.get("claim_days", str(CLAIM_DAYS_DEFAULT))
        return ctx.end("ussd.send.done_claim", amount=q["amount"], phone=phone, days=days)
    return ctx.end("ussd.send.done", amount=q["amount"], who=_who(ctx))


STATES = [
    State("send.phone", render_phone, handle_phone),
    State("send.asset", render_asset, handle_asset),
    State("send.amount", render_amount, handle_amount, resumable=True),
    State("send.confirm", render_confirm, handle_confirm, resumable=True, secret=True),
]
