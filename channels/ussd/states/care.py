"""Help and care: the customer-care number and paybill, and the forgotten-PIN reset.

Forgot PIN: a 6-digit code by SMS to the registered number, the national ID, then a new PIN twice;
money out then waits the 24-hour cool-down (core). A customer whose PIN staff reset lands on
`pin.reset.code` when they dial (staff checked the ID already): the code, then the new PIN.
The code and the ID cross hops sealed (never in clear in the session).
"""

from __future__ import annotations

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.parser import is_digits
from channels.ussd.screens import local_phone
from channels.ussd.states.common import Explained, con
from core.identity.errors import NationalIdMismatch, OtpExpired, OtpInvalid, OtpTooManyRequests
from core.identity.otp import OTP_DIGITS

HELP = "help"
FORGOT = "pin.forgot"
CODE = "pin.reset.code"
NATIONAL_ID = "pin.reset.id"
NEW_PIN = "pin.reset.new"
CONFIRM = "pin.reset.confirm"


def _end_with_care(ctx: Ctx, code: str) -> Screen:
    screen = ctx.end(code)
    if not ctx.contacts.care_phone:
        return screen
    return Screen(screen.text + "\n" + ctx.t("ussd.help.care_line", care=ctx.contacts.care_phone), end=True)


async def render_help(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.help", care=ctx.contacts.care_phone, paybill=ctx.contacts.paybill))


async def handle_help(ctx: Ctx, value: str) -> str:
    return FORGOT if value == "1" else ctx.fail("invalid_choice")


async def render_forgot(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.pin.forgot", phone=local_phone(ctx.session.phone)))


async def handle_forgot(ctx: Ctx, value: str) -> str:
    if value != "1":
        return ctx.fail("invalid_choice")
    try:
        await ctx.flows.start_pin_reset(phone=ctx.session.phone)
    except OtpTooManyRequests as exc:
        raise Explained("otp_rate_limited", minutes=str(-(-exc.retry_after // 60))) from exc
    for key in ("otp_sealed", "id_sealed", "pin_digest", "staff_reset"):
        ctx.data.pop(key, None)
    return CODE


async def render_code(ctx: Ctx) -> Screen:
    if ctx.data.get("staff_reset"):
        return Screen(ctx.t("ussd.pin.reset_code_staff"))
    return con(ctx, ctx.t("ussd.pin.reset_code"))


async def handle_code(ctx: Ctx, value: str) -> str:
    if not is_digits(value, length=OTP_DIGITS):
        return ctx.fail("otp_format")
    ctx.data["otp_sealed"] = pins.seal(ctx.secret, ctx.session.session_id, value)
    return NEW_PIN if ctx.data.get("staff_reset") else NATIONAL_ID


async def render_national_id(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.pin.reset_id"))


async def handle_national_id(ctx: Ctx, value: str) -> str:
    if not is_digits(value) or not 6 <= len(value) <= 9:
        return ctx.fail("invalid_national_id")
    ctx.data["id_sealed"] = pins.seal(ctx.secret, ctx.session.session_id, value)
    return NEW_PIN


async def render_new_pin(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.pin.reset_new"))


async def handle_new_pin(ctx: Ctx, value: str) -> str:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    await ctx.flows.check_new_pin(phone=ctx.session.phone, pin=value)
    ctx.data["pin_digest"] = pins.digest(ctx.secret, ctx.session.session_id, value)
    return CONFIRM


async def render_confirm(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.reg.pin_confirm"))


def _back_to(ctx: Ctx, state: str) -> None:
    """Go back to an earlier step of the reset (dropping the history after it)."""
    history = ctx.session.history
    while history and history[-1] != state:
        history.pop()
    if history:
        history.pop()
    ctx.session.state = state


async def _code_spent(ctx: Ctx) -> Screen:
    """The code expired or is used up. After a staff reset every dial lands on the code step, so
    the customer could not reach the menu to ask for another: send a new one now instead."""
    staff_reset = bool(ctx.data.get("staff_reset"))
    ctx.data.clear()
    if not staff_reset:
        return ctx.end("error.otp_expired")
    try:
        await ctx.flows.start_pin_reset(phone=ctx.session.phone)
    except OtpTooManyRequests as exc:
        return ctx.end("error.otp_rate_limited", minutes=-(-exc.retry_after // 60))
    return ctx.end("ussd.pin.reset_code_resent")


async def handle_confirm(ctx: Ctx, value: str) -> str | Screen:
    session_id = ctx.session.session_id
    if not pins.same(ctx.secret, session_id, value, ctx.data.get("pin_digest", "")):
        ctx.data.pop("pin_digest", None)
        _back_to(ctx, NEW_PIN)
        return ctx.fail("pin_mismatch")
    if "otp_sealed" not in ctx.data:  # cannot happen through the menus; start the step again
        _back_to(ctx, CODE)
        return ctx.fail("otp_format")
    otp = pins.unseal(ctx.secret, session_id, ctx.data["otp_sealed"])
    sealed_id = ctx.data.get("id_sealed")
    national_id = pins.unseal(ctx.secret, session_id, sealed_id) if sealed_id else None
    try:
        await ctx.flows.finish_pin_reset(
            phone=ctx.session.phone, otp=otp, national_id=national_id, new_pin=value
        )
    except OtpInvalid as exc:
        if exc.attempts_left <= 0:  # that code is spent
            return await _code_spent(ctx)
        ctx.data.pop("otp_sealed", None)
        ctx.data.pop("pin_digest", None)
        _back_to(ctx, CODE)
        return ctx.fail("otp_invalid", left=exc.attempts_left)
    except OtpExpired:
        return await _code_spent(ctx)
    except NationalIdMismatch:
        ctx.data.clear()
        return _end_with_care(ctx, "error.national_id_mismatch")
    except OtpTooManyRequests as exc:  # too many wrong codes for this number, on any channel
        ctx.data.clear()
        return ctx.end("error.otp_rate_limited", minutes=-(-exc.retry_after // 60))
    ctx.data.clear()
    return ctx.end("ussd.pin.reset_done")


STATES = [
    State(HELP, render_help, handle_help),
    State(FORGOT, render_forgot, handle_forgot),
    State(CODE, render_code, handle_code, secret=True),
    State(NATIONAL_ID, render_national_id, handle_national_id, secret=True),
    State(NEW_PIN, render_new_pin, handle_new_pin, secret=True),
    State(CONFIRM, render_confirm, handle_confirm, secret=True),
]
