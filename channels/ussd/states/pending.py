"""Pending items: deposits seen but not confirmed (with confirmations so far), withdrawals and
M-Pesa payouts held until they are final, card / Airtel Money payment links not yet paid."""

from __future__ import annotations

from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.parser import MORE
from channels.ussd.screens import money, paginate
from channels.ussd.states.common import con
from core.flows.types import PendingLine

KINDS = frozenset({"deposit", "withdrawal", "payout", "hold", "payment_link"})


def pending_text(ctx: Ctx, item: PendingLine) -> str:
    kind = item.kind if item.kind in KINDS else "hold"
    amount = money(item.amount, ctx.language)
    if kind == "deposit":
        return ctx.t(
            "ussd.pending.deposit", amount=amount, done=item.confirmations or 0, needed=item.required or 0
        )
    return ctx.t(f"ussd.pending.{kind}", amount=amount)


async def render_pending(ctx: Ctx) -> Screen:
    waiting = await ctx.flows.pending(customer_id=ctx.customer_id)
    if not waiting:
        return con(ctx, ctx.t("ussd.pending.empty"))
    text, has_more = paginate(
        ctx.t("ussd.pending.title"),
        [pending_text(ctx, item) for item in waiting],
        int(ctx.data.get("page", 0)),
        more=ctx.t("ussd.nav.more"),
        back=ctx.t("ussd.nav.back"),
    )
    ctx.data["has_more"] = has_more
    return Screen(text)


async def handle_pending(ctx: Ctx, value: str) -> str:
    if value == MORE and ctx.data.get("has_more"):
        ctx.data["page"] = int(ctx.data.get("page", 0)) + 1
        return ctx.session.state
    return ctx.fail("invalid_choice")


STATES = [State("pending", render_pending, handle_pending)]
