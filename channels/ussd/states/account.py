"""My account: change PIN, language, KYC status and limits, help (with the forgotten-PIN reset)."""

from __future__ import annotations

import hmac

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.screens import money
from channels.ussd.states.common import con
from channels.ussd.states.registration import LANGUAGE_CHOICES
from core.identity.errors import PinIncorrect
from core.money import Money

SCREEN_MAX = 160  # characters a USSD screen shows
ACCOUNT_CHOICES = {"1": "account.old_pin", "2": "account.language", "3": "account.kyc", "4": "help"}


async def render_account(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.menu.account"))


async def handle_account(ctx: Ctx, value: str) -> str | Screen:
    target = ACCOUNT_CHOICES.get(value)
    if target is None:
        return ctx.fail("invalid_choice")
    if target == "account.kyc":
        return await _kyc(ctx)
    return target


def _limit(ctx: Ctx, value: Money | None) -> str:
    return money(value, ctx.language) if value is not None else ctx.t("ussd.unlimited")


def _tier(ctx: Ctx, tier: str) -> str:
    """The flows say "Tier 2"; the customer reads it in their language ("Kiwango 2")."""
    return ctx.t("ussd.kyc.tier", tier=tier.removeprefix("Tier").strip())


async def _kyc(ctx: Ctx) -> Screen:
    status = await ctx.flows.account_status(customer_id=ctx.customer_id)
    screen = ctx.end(
        "ussd.account.kyc_limits",
        status=ctx.t(f"ussd.kyc.status.{status.kyc_status}")
        + (f" ({_tier(ctx, status.tier)})" if status.tier else ""),
        per_tx=_limit(ctx, status.per_transaction),
        daily=_limit(ctx, status.daily_limit),
        used=money(status.used_today, ctx.language),
    )
    # what raises the limits (issue 12), under the limits when the screen has room for it; the
    # ussd.kyc.hint.* and kyc_limits wordings are short enough that Swahili keeps it too (QA)
    hint = ctx.t(f"ussd.kyc.hint.{status.next_step}") if status.next_step else ""
    if hint and len(screen.text) + 1 + len(hint) <= SCREEN_MAX:
        return Screen(screen.text + "\n" + hint, end=True)
    return screen


async def render_old_pin(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.account.old_pin"))


async def handle_old_pin(ctx: Ctx, value: str) -> str:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    # checked now: a wrong current PIN is told at once, with the tries left (it counts as one)
    await ctx.flows.check_pin(customer_id=ctx.customer_id, pin=value)
    ctx.data["old_pin_sealed"] = pins.seal(ctx.secret, ctx.session.session_id, value)
    return "account.new_pin"


async def render_new_pin(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.account.new_pin"))


async def handle_new_pin(ctx: Ctx, value: str) -> str:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    sealed = ctx.data.get("old_pin_sealed")
    if sealed and hmac.compare_digest(pins.unseal(ctx.secret, ctx.session.session_id, sealed), value):
        return ctx.fail("pin_same")  # "Your PIN has been changed" would not be true
    await ctx.flows.check_new_pin(phone=ctx.session.phone, pin=value)
    ctx.data["pin_digest"] = pins.digest(ctx.secret, ctx.session.session_id, value)
    return "account.confirm_pin"


async def render_confirm_pin(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.reg.pin_confirm"))


async def handle_confirm_pin(ctx: Ctx, value: str) -> str | Screen:
    if not pins.same(ctx.secret, ctx.session.session_id, value, ctx.data.get("pin_digest", "")):
        if ctx.session.history and ctx.session.history[-1] == "account.new_pin":
            ctx.session.history.pop()
        ctx.session.state = "account.new_pin"
        return ctx.fail("pin_mismatch")
    sealed = ctx.data.get("old_pin_sealed")
    if not sealed:  # no checked current PIN in this session: ask for it again
        ctx.session.history.clear()
        ctx.session.state = "account.old_pin"
        return ctx.session.state
    old_pin = pins.unseal(ctx.secret, ctx.session.session_id, sealed)
    try:
        await ctx.flows.change_pin(customer_id=ctx.customer_id, old_pin=old_pin, new_pin=value)
    except PinIncorrect:  # changed elsewhere since it was checked: ask for the current PIN again
        ctx.data.pop("old_pin_sealed", None)
        ctx.session.history = ["account"]
        ctx.session.state = "account.old_pin"
        raise
    ctx.data.clear()
    return ctx.end("ussd.account.pin_changed")


async def render_language(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.account.language"))


async def handle_language(ctx: Ctx, value: str) -> str | Screen:
    language = LANGUAGE_CHOICES.get(value)
    if language is None:
        return ctx.fail("invalid_choice")
    await ctx.flows.set_language(customer_id=ctx.customer_id, language=language)
    ctx.session.language = language
    return ctx.end("ussd.account.language_set")


STATES = [
    State("account", render_account, handle_account),
    State("account.old_pin", render_old_pin, handle_old_pin, secret=True),
    State("account.new_pin", render_new_pin, handle_new_pin, secret=True),
    State("account.confirm_pin", render_confirm_pin, handle_confirm_pin, secret=True),
    State("account.language", render_language, handle_language),
]
