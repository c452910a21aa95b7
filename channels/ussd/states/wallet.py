"""Main menu, balances, send menu, deposit & top up, mini statement (with pending items), resume."""

from __future__ import annotations

from babel.dates import format_date

from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.parser import MORE
from channels.ussd.screens import local_phone, money, paginate
from channels.ussd.states.common import CRYPTO_CHOICES, con
from channels.ussd.states.pending import pending_text
from core.flows.types import StatementLine
from core.i18n.catalog import has
from core.money import Asset, Money

# A target not in the table yet (a service another change builds) answers "coming soon".
MAIN_CHOICES = {
    "1": "balances",
    "2": "buy.asset",
    "3": "sell.asset",
    "4": "send.menu",
    "5": "cashout.amount",
    "6": "deposit",
    "7": "statement",
    "8": "rates",
    "9": "account",
}
SEND_MENU = {"1": "send.phone", "2": "withdraw.pick", "3": "merchant.pay"}
TOPUP = "4"
_LOCALES = {"en": "en_KE", "sw": "sw_KE"}


async def render_main(ctx: Ctx) -> Screen:
    return Screen(ctx.t("ussd.menu.main"))


async def handle_main(ctx: Ctx, value: str) -> str:
    target = MAIN_CHOICES.get(value)
    if target is None:
        return ctx.fail("invalid_choice")
    kind = target.split(".", 1)[0]
    ctx.begin_op(kind)
    return target


async def _paged(ctx: Ctx, header: str, lines: list[str]) -> Screen:
    text, has_more = paginate(
        header, lines, int(ctx.data.get("page", 0)), more=ctx.t("ussd.nav.more"), back=ctx.t("ussd.nav.back")
    )
    ctx.data["has_more"] = has_more
    return Screen(text)


async def _handle_paged(ctx: Ctx, value: str) -> str:
    if value == MORE and ctx.data.get("has_more"):
        ctx.data["page"] = int(ctx.data.get("page", 0)) + 1
        return ctx.session.state
    return ctx.fail("invalid_choice")


async def render_balances(ctx: Ctx) -> Screen:
    lines = []
    for line in await ctx.flows.balances(customer_id=ctx.customer_id):
        text = money(line.amount, ctx.language)
        if line.asset is not Asset.KES:
            text = f"{line.asset.value}: {text.split(' ', 1)[-1]}"
            if line.kes_value is not None:
                text += f" ~{money(line.kes_value.whole_units(), ctx.language)[:-3]}"
        lines.append(text)
    return await _paged(ctx, ctx.t("ussd.balances.title"), lines)


TRANSFER_KINDS = frozenset({"send", "quote_send", "claim_collect"})


def _kind(ctx: Ctx, item: StatementLine) -> str:
    """A short label for an entry kind, in the customer's language (the raw kind if unknown)."""
    kind = item.kind
    if kind in TRANSFER_KINDS:
        kind = "received" if item.amount.amount >= 0 else "sent"
    code = f"ussd.kind.{kind}"
    return ctx.t(code)[:12] if has(code) else item.kind[:10]


async def render_statement(ctx: Ctx) -> Screen:
    """Money on its way first (deposits seen, payouts and withdrawals in flight), then movements."""
    waiting = await ctx.flows.pending(customer_id=ctx.customer_id)
    movements = await ctx.flows.mini_statement(customer_id=ctx.customer_id, limit=5)
    if not movements and not waiting:
        return con(ctx, ctx.t("ussd.statement.empty"))
    locale = _LOCALES.get(ctx.language, "en_KE")
    lines = [pending_text(ctx, item) for item in waiting[:2]]
    for item in movements:
        sign = "+" if item.amount.amount >= 0 else "-"
        amount = money(Money(abs(item.amount.amount), item.amount.asset), ctx.language)
        lines.append(f"{format_date(item.at, 'dd/MM', locale=locale)} {sign}{amount} {_kind(ctx, item)}")
    header = ctx.t("ussd.statement.title")
    ctx.data["pending_count"] = len(waiting)
    if waiting:  # the Pending item: every pending line, not only the two shown here
        header += "\n" + ctx.t("ussd.pending.item", count=len(waiting))
    return await _paged(ctx, header, lines)


async def handle_statement(ctx: Ctx, value: str) -> str:
    if value == "1" and ctx.data.get("pending_count"):
        ctx.data.pop("page", None)
        return "pending"
    return await _handle_paged(ctx, value)


async def render_send_menu(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.menu.send"))


async def handle_send_menu(ctx: Ctx, value: str) -> str:
    target = SEND_MENU.get(value)
    if target is None:
        return ctx.fail("invalid_choice")
    ctx.data["kind"] = target.split(".", 1)[0]
    return target


async def render_receive(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.menu.deposit"))


async def handle_deposit(ctx: Ctx, value: str) -> str | Screen:
    """Crypto deposit addresses (1-3), or how to top up KES by M-Pesa paybill (4)."""
    if value == TOPUP:
        return ctx.end("ussd.topup.done", paybill=ctx.contacts.paybill, phone=local_phone(ctx.session.phone))
    return await handle_receive(ctx, value)


async def handle_receive(ctx: Ctx, value: str) -> str | Screen:
    asset = CRYPTO_CHOICES.get(value)
    if asset is None:
        return ctx.fail("invalid_choice")
    address = await ctx.flows.deposit_address(
        customer_id=ctx.customer_id, asset=asset, idempotency_key=ctx.op_key(f"receive:{asset.value}")
    )
    done = "ussd.receive.done_demo" if getattr(address, "demo", False) else "ussd.receive.done"
    return ctx.end(done, asset=asset.value, address=address)


async def render_resume(ctx: Ctx) -> Screen:
    point = ctx.data.get("resume", {})
    kind = point.get("data", {}).get("kind", "")
    detail = point.get("data", {}).get("describe", "")
    operation = ctx.t(f"ussd.op.{kind}", detail=detail)
    return Screen(ctx.t("ussd.resume", operation=operation))


async def handle_resume(ctx: Ctx, value: str) -> str:
    if value == "2" or "*" in value:  # no; or a key path typed at once: where the caller meant to go
        ctx.data.clear()
        return "main"
    if value != "1":
        return ctx.fail("invalid_choice")
    point = ctx.data.get("resume")
    if not point:  # nothing left to resume (never reached through the menus): the main menu
        return "main"
    ctx.session.data = dict(point["data"])
    ctx.session.data.pop("quote", None)  # prices move: quote again
    ctx.session.history = ["main", *[s for s in point["history"] if s != "main"]]
    ctx.session.state = point["state"]
    return str(point["state"])


STATES = [
    State("main", render_main, handle_main),
    State("balances", render_balances, _handle_paged),
    State("statement", render_statement, handle_statement),
    State("send.menu", render_send_menu, handle_send_menu),
    State("deposit", render_receive, handle_deposit),
    State("receive.asset", render_receive, handle_deposit),
    State("resume", render_resume, handle_resume),
]
