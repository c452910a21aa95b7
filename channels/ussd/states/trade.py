"""Buy crypto (by M-Pesa STK push or from the KES balance) and sell crypto to M-Pesa (all, an amount
in KES, or an amount in the crypto): asset, how, amount, quote + PIN, done."""

from __future__ import annotations

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.screens import money
from channels.ussd.states import amounts
from channels.ussd.states.common import (
    CRYPTO_CHOICES,
    Explained,
    asset_of,
    balance_of,
    con,
    quote_screen,
    quote_to_data,
)
from core.flows.types import QuoteView
from core.money import Asset, Money
from core.quotes.errors import AmountTooLarge, AmountTooSmall
from core.quotes.maths import MPESA_MAX, MPESA_MIN, WALLET_MAX_KES, Rail
from core.rails.choice import collection_rail

WALLET = "wallet"  # data["rail"]: a buy paid from the KES balance (else M-Pesa)
BY_KES = "amount_kes"  # data key: a sell by the KES the customer wants on M-Pesa


def _kes(value: object, ctx: Ctx) -> str:
    return money(Money.of(str(value), Asset.KES), ctx.language)


def _mpesa_minimum(ctx: Ctx) -> str:
    return _kes(MPESA_MIN, ctx)


def _choose(kind: str) -> State:
    async def render(ctx: Ctx) -> Screen:
        return con(ctx, ctx.t(f"ussd.{kind}.asset"))

    async def handle(ctx: Ctx, value: str) -> str:
        asset = CRYPTO_CHOICES.get(value)
        if asset is None:
            return ctx.fail("invalid_choice")
        ctx.data["asset"] = asset.value
        if kind == "sell":
            return "sell.how"
        # the KES balance is offered only when there is one (else straight to M-Pesa, as before)
        return "buy.pay_from" if (await balance_of(ctx, Asset.KES)).is_positive() else "buy.amount"

    return State(f"{kind}.asset", render, handle)


# --- buy ---------------------------------------------------------------------------------


def _by_link(ctx: Ctx) -> bool:
    """Airtel and Telkom lines pay by card or Airtel Money (a link by SMS), not an M-Pesa prompt."""
    return collection_rail(ctx.session.phone) is not Rail.MPESA


async def render_pay_from(ctx: Ctx) -> Screen:
    code = "ussd.buy.pay_from_link" if _by_link(ctx) else "ussd.buy.pay_from"
    return con(ctx, ctx.t(code, asset=asset_of(ctx).value))


async def handle_pay_from(ctx: Ctx, value: str) -> str:
    if value not in ("1", "2"):
        return ctx.fail("invalid_choice")
    if value == "2":
        ctx.data["rail"] = WALLET
    else:
        ctx.data.pop("rail", None)
    return "buy.amount"


async def render_buy_amount(ctx: Ctx) -> Screen:
    asset = asset_of(ctx).value
    if ctx.data.get("rail") == WALLET:
        balance = money(await balance_of(ctx, Asset.KES), ctx.language)
        return Screen(ctx.t("ussd.buy.amount_wallet", asset=asset, balance=balance))
    code = "ussd.buy.amount_link" if _by_link(ctx) else "ussd.buy.amount"
    return Screen(ctx.t(code, asset=asset))  # the prompt last: kept under an error


async def handle_buy_amount(ctx: Ctx, value: str) -> str:
    amount = amounts.parse(value, Asset.KES)
    wallet = ctx.data.get("rail") == WALLET
    if amount is None:  # from the wallet cents are fine; M-Pesa takes whole shillings
        return ctx.fail(amounts.KES_FORMAT if wallet else amounts.KES_WHOLE)
    if wallet:
        if amount > await balance_of(ctx, Asset.KES):
            return ctx.fail("insufficient_funds")
        if amount.amount > WALLET_MAX_KES:
            return ctx.fail("amount_over_max", max=_kes(WALLET_MAX_KES, ctx))
    else:
        if amount.amount != amount.amount.to_integral_value():
            return ctx.fail(amounts.KES_WHOLE)  # M-Pesa moves whole shillings
        if amount.amount < MPESA_MIN:
            return ctx.fail("amount_below_minimum", minimum=_mpesa_minimum(ctx))
        if amount.amount > MPESA_MAX:
            return ctx.fail("amount_over_max", max=_kes(MPESA_MAX, ctx))
    await amounts.check(ctx, "buy", amount)
    ctx.data["amount"] = str(amount.amount)
    ctx.data["amount_asset"] = Asset.KES.value
    ctx.data["describe"] = money(amount, ctx.language)
    ctx.data.pop("quote", None)
    return "buy.quote"


async def render_buy_quote(ctx: Ctx) -> Screen:
    wallet = ctx.data.get("rail") == WALLET
    if "quote" not in ctx.data:
        asset, kes = asset_of(ctx), Money.of(ctx.data["amount"], Asset.KES)
        if wallet:
            quote = await ctx.flows.quote_buy_from_wallet(
                customer_id=ctx.customer_id, asset=asset, kes_amount=kes
            )
        else:
            quote = await ctx.flows.quote_buy(customer_id=ctx.customer_id, asset=asset, kes_amount=kes)
        quote_to_data(ctx, quote)
    return quote_screen(ctx, "ussd.buy.quote_wallet" if wallet else "ussd.buy.quote")


async def handle_buy_quote(ctx: Ctx, value: str) -> str | Screen:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    quote = ctx.data["quote"]
    receipt = await ctx.flows.confirm_buy(
        customer_id=ctx.customer_id, quote_id=quote["id"], pin=value, idempotency_key=ctx.op_key("buy")
    )
    ctx.data["done"] = True
    # "link": a card / Airtel Money rail (PesaPal) whose payment link went by SMS
    done = {"done": "ussd.buy.done_wallet", "link": "ussd.buy.done_link"}.get(receipt.status, "ussd.buy.done")
    return ctx.end(done, pay=quote["pay"], get=quote["get"])


# --- sell --------------------------------------------------------------------------------


async def render_sell_how(ctx: Ctx) -> Screen:
    asset = asset_of(ctx)
    balance = money(await balance_of(ctx, asset), ctx.language)
    return con(ctx, ctx.t("ussd.sell.how", asset=asset.value, balance=balance, currency=asset.currency))


async def handle_sell_how(ctx: Ctx, value: str) -> str:
    ctx.data.pop(BY_KES, None)
    if value == "2":
        return "sell.amount_kes"
    if value == "3":
        return "sell.amount"
    if value != "1":
        return ctx.fail("invalid_choice")
    asset = asset_of(ctx)
    everything = await balance_of(ctx, asset)
    if not everything.is_positive():
        return ctx.fail("insufficient_funds")
    return await _sell(ctx, everything)


async def _sell(ctx: Ctx, amount: Money) -> str:
    await amounts.check(ctx, "sell", amount)
    ctx.data["amount"] = str(amount.amount)
    ctx.data["amount_asset"] = amount.asset.value
    ctx.data["describe"] = money(amount, ctx.language)
    ctx.data.pop("quote", None)
    return "sell.quote"


async def render_sell_amount(ctx: Ctx) -> Screen:
    asset = asset_of(ctx)
    balance = money(await balance_of(ctx, asset), ctx.language)
    return Screen(ctx.t("ussd.sell.amount", asset=asset.value, balance=balance))


async def handle_sell_amount(ctx: Ctx, value: str) -> str:
    asset = asset_of(ctx)
    amount = amounts.parse(value, asset)
    if amount is None:
        return ctx.fail(amounts.format_error(asset))
    if amount > await balance_of(ctx, asset):
        return ctx.fail("insufficient_funds")
    return await _sell(ctx, amount)


async def render_sell_amount_kes(ctx: Ctx) -> Screen:
    return Screen(ctx.t("ussd.sell.amount_kes", asset=asset_of(ctx).value))


async def handle_sell_amount_kes(ctx: Ctx, value: str) -> str:
    kes = amounts.parse(value, Asset.KES)
    if kes is None:
        return ctx.fail(amounts.KES_FORMAT)
    if kes.amount < MPESA_MIN:
        return ctx.fail("amount_below_payout_minimum", minimum=_mpesa_minimum(ctx))
    if kes.amount > MPESA_MAX:
        return ctx.fail("amount_over_max", max=_kes(MPESA_MAX, ctx))
    await amounts.check(ctx, "sell", kes)
    ctx.data[BY_KES] = str(kes.amount)
    ctx.data["amount"] = str(kes.amount)
    ctx.data["amount_asset"] = Asset.KES.value
    ctx.data["describe"] = money(kes, ctx.language)
    ctx.data.pop("quote", None)
    return "sell.quote"


async def _sell_quote(ctx: Ctx) -> QuoteView:
    asset = asset_of(ctx)
    try:
        if BY_KES not in ctx.data:
            amount = Money.of(ctx.data["amount"], asset)
            return await ctx.flows.quote_sell(customer_id=ctx.customer_id, amount=amount)
        kes = Money.of(ctx.data[BY_KES], Asset.KES)
        quote = await ctx.flows.quote_sell_for_kes(customer_id=ctx.customer_id, asset=asset, kes_amount=kes)
    except AmountTooSmall as exc:  # what M-Pesa would pay out is under its minimum (or nothing)
        raise Explained("amount_below_payout_minimum", minimum=_mpesa_minimum(ctx)) from exc
    except AmountTooLarge as exc:
        raise Explained("amount_over_max", max=_kes(MPESA_MAX, ctx)) from exc
    balance = await balance_of(ctx, asset)
    if quote.pay > balance:  # name the most: what selling everything would pay
        try:
            everything = await ctx.flows.quote_sell(customer_id=ctx.customer_id, amount=balance)
        except AmountTooSmall as exc:
            raise Explained("insufficient_funds") from exc
        raise Explained("amount_over_max", max=money(everything.receive, ctx.language))
    return quote


async def render_sell_quote(ctx: Ctx) -> Screen:
    if "quote" not in ctx.data:
        quote = await _sell_quote(ctx)
        quote_to_data(ctx, quote)
        ctx.data["kept"] = str(quote.kept.amount) if quote.kept is not None else "0"
    kept = Money.of(ctx.data.get("kept", "0"), Asset.KES)
    if not kept.is_positive():
        return quote_screen(ctx, "ussd.sell.quote")
    # amount honesty: the cents M-Pesa cannot carry stay in the KES wallet, and the screen says so
    q = ctx.data["quote"]
    rate = f"{q['rate']} ({ctx.t('ussd.quote.demo')})" if q.get("demo") else q["rate"]
    return Screen(
        ctx.t(
            "ussd.sell.quote_kept",
            pay=q["pay"],
            get=q["get"],
            fee=q["fee"],
            rate=rate,
            seconds=q["seconds"],
            kept=money(kept, ctx.language),
        )
    )


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
    State("buy.pay_from", render_pay_from, handle_pay_from),
    State("buy.amount", render_buy_amount, handle_buy_amount, resumable=True),
    State("buy.quote", render_buy_quote, handle_buy_quote, resumable=True, secret=True),
    _choose("sell"),
    State("sell.how", render_sell_how, handle_sell_how),
    State("sell.amount", render_sell_amount, handle_sell_amount, resumable=True),
    State("sell.amount_kes", render_sell_amount_kes, handle_sell_amount_kes, resumable=True),
    State("sell.quote", render_sell_quote, handle_sell_quote, resumable=True, secret=True),
]
