"""Pieces several state modules share: asset choices, navigation footers, quote screens."""

from __future__ import annotations

from channels.ussd.engine import Ctx, Screen
from channels.ussd.screens import money
from core.errors import KibetiError
from core.flows.types import BalanceLine, QuoteView
from core.money import Asset, Money

CRYPTO_CHOICES = {"1": Asset.BTC, "2": Asset.USDT_ERC20, "3": Asset.USDT_TRC20}
SEND_CHOICES = {"1": Asset.KES, "2": Asset.BTC, "3": Asset.USDT_ERC20, "4": Asset.USDT_TRC20}


class Explained(KibetiError):
    """A flows error told more precisely: its own code, with the values its text needs."""

    def __init__(self, code: str, **values: str) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


def con(ctx: Ctx, body: str, *, back: bool = True) -> Screen:
    return Screen(body + ("\n" + ctx.t("ussd.nav.back") if back else ""))


def asset_of(ctx: Ctx) -> Asset:
    return Asset(ctx.data["asset"])


def quote_to_data(ctx: Ctx, quote: QuoteView) -> None:
    lang = ctx.language
    ctx.data["quote"] = {
        "id": quote.id,
        "pay": money(quote.pay, lang),
        "get": money(quote.receive, lang),
        "fee": money(quote.fee, lang),
        "rate": quote.rate,
        "seconds": quote.valid_seconds,
        "demo": quote.demo,
    }


def quote_screen(ctx: Ctx, code: str) -> Screen:
    q = ctx.data["quote"]
    values = {k: q[k] for k in ("pay", "get", "fee", "rate", "seconds")}
    if q.get("demo"):  # fixed demo rates (the embedded default), never a market price
        values["rate"] = f"{values['rate']} ({ctx.t('ussd.quote.demo')})"
    return Screen(ctx.t(code, **values))


async def balance_of(ctx: Ctx, asset: Asset) -> Money:
    lines: list[BalanceLine] = await ctx.flows.balances(customer_id=ctx.customer_id)
    for line in lines:
        if line.asset is asset:
            return line.amount
    return Money.zero(asset)
