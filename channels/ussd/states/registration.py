"""Registration of a new number: language, name, national ID, date of birth, terms, PIN twice.

Name, ID and date of birth are the customer's identity for KYC: registration screens them and
the identity registry check lifts a match to Tier 1 (compliance), with an SMS either way."""

from __future__ import annotations

from datetime import date

from channels.ussd import pins
from channels.ussd.engine import Ctx, Screen, State
from channels.ussd.parser import is_digits
from channels.ussd.states.common import con

LANGUAGE_CHOICES = {"1": "en", "2": "sw"}
NAME_MAX = 40
NAME_MARKS = frozenset(" '-.\u2019")  # besides letters: spaces, apostrophes, hyphens, dots
MIN_AGE_YEARS = 18  # as compliance requires (compliance.kyc.MIN_AGE_YEARS)


def parse_dob(value: str, *, today: date) -> date | str:
    """DDMMYYYY -> the date, or the error code to show: a real date, 1900 or later, 18 or older."""
    if not (is_digits(value) and len(value) == 8):
        return "invalid_dob"
    try:
        dob = date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError:
        return "invalid_dob"
    if dob.year < 1900 or dob > today:
        return "invalid_dob"
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    return dob if age >= MIN_AGE_YEARS else "dob_too_young"


async def render_welcome(ctx: Ctx) -> Screen:
    return Screen(ctx.t("ussd.welcome"))


async def handle_welcome(ctx: Ctx, value: str) -> str:
    language = LANGUAGE_CHOICES.get(value)
    if language is None:  # no language chosen yet: said in both, as the welcome screen is
        return ctx.fail("invalid_choice_bilingual")
    ctx.session.language = language
    ctx.data["language"] = language
    return "reg.name"


async def render_name(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.reg.name"))


async def handle_name(ctx: Ctx, value: str) -> str:
    name = " ".join(value.replace("*", " ").replace("#", " ").split())[:NAME_MAX]
    # letters and spaces, as the error says (and the joins of real names: O'Brien, Kamau-Otieno, St.);
    # no digits, symbols or emoji, which no ID carries and which would turn every SMS into UCS-2
    if sum(c.isalpha() for c in name) < 2 or not all(c.isalpha() or c in NAME_MARKS for c in name):
        return ctx.fail("invalid_name")
    ctx.data["name"] = name
    return "reg.national_id"


async def render_national_id(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.reg.national_id"))


async def handle_national_id(ctx: Ctx, value: str) -> str:
    if not is_digits(value) or not 6 <= len(value) <= 9:
        return ctx.fail("invalid_national_id")
    ctx.data["national_id"] = value
    return "reg.dob"


async def render_dob(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.reg.dob"))


async def handle_dob(ctx: Ctx, value: str) -> str:
    parsed = parse_dob(value, today=ctx.flows.today())
    if isinstance(parsed, str):
        return ctx.fail(parsed)
    ctx.data["dob"] = parsed.isoformat()
    return "reg.terms"


async def render_terms(ctx: Ctx) -> Screen:
    return Screen(ctx.t("ussd.reg.terms"))


async def handle_terms(ctx: Ctx, value: str) -> str | Screen:
    if value == "2":
        ctx.data.clear()
        return ctx.end("ussd.reg.declined")
    if value != "1":
        return ctx.fail("invalid_choice")
    return "reg.pin"


async def render_pin(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.reg.pin"))


async def handle_pin(ctx: Ctx, value: str) -> str:
    if not pins.looks_like_pin(value):
        return ctx.fail("invalid_pin")
    await ctx.flows.check_new_pin(phone=ctx.session.phone, pin=value)
    ctx.data["pin_digest"] = pins.digest(ctx.secret, ctx.session.session_id, value)
    return "reg.pin_confirm"


async def render_pin_confirm(ctx: Ctx) -> Screen:
    return con(ctx, ctx.t("ussd.reg.pin_confirm"))


async def handle_pin_confirm(ctx: Ctx, value: str) -> str | Screen:
    """The confirmation hop carries the PIN itself, so registration happens here (terms came first)."""
    if not pins.same(ctx.secret, ctx.session.session_id, value, ctx.data.get("pin_digest", "")):
        ctx.data.pop("pin_digest", None)
        if ctx.session.history and ctx.session.history[-1] == "reg.pin":
            ctx.session.history.pop()
        ctx.session.state = "reg.pin"
        return ctx.fail("pin_mismatch")
    customer = await ctx.flows.register(
        phone=ctx.session.phone,
        name=ctx.data["name"],
        national_id=ctx.data["national_id"],
        date_of_birth=date.fromisoformat(ctx.data["dob"]),
        pin=value,
        language=ctx.language,
        idempotency_key=ctx.op_key("register"),
    )
    ctx.session.customer_id = customer.id
    ctx.data.clear()
    return ctx.end("ussd.reg.done", name=customer.name.split(" ")[0][:20])


STATES = [
    State("welcome", render_welcome, handle_welcome),
    State("reg.name", render_name, handle_name),
    State("reg.national_id", render_national_id, handle_national_id),
    State("reg.dob", render_dob, handle_dob),
    State("reg.terms", render_terms, handle_terms),
    State("reg.pin", render_pin, handle_pin, secret=True),
    State("reg.pin_confirm", render_pin_confirm, handle_pin_confirm, secret=True),
]
