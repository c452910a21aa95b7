"""Rates: what one unit of each asset costs to buy and fetches when sold, without starting a trade."""

from __future__ import annotations

from decimal import Decimal

from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.states.common import con
from core.money import Money

WHOLE_FROM = Decimal(10_000)  # a BTC price in whole shillings: the cents only crowd the screen


def _price(ctx: Ctx, value: Money | None) -> str:
    if value is None:
        return ctx.t("ussd.rates.none")
    amount = value.amount
    if amount >= WHOLE_FROM:
        return f"{int(amount):,}"
    return f"{amount:,.2f}"


async def render_rates(ctx: Ctx) -> Screen:
    lines = await ctx.flows.rates()
    title = ctx.t("ussd.rates.title")
    if any(line.demo for line in lines):  # fixed demo rates (the embedded default), never a market price
        title += f" ({ctx.t('ussd.quote.demo')})"
    body = [title]
    for line in lines:
        body.append(
            ctx.t(
                "ussd.rates.line",
                asset=line.asset.value,
                buy=_price(ctx, line.buy),
                sell=_price(ctx, line.sell),
            )
        )
    return con(ctx, "\n".join(body))


STATES = [State("rates", render_rates)]
