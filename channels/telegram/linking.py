"""Linking a chat to a customer, and registering in chat a number that has no account yet.

/start asks for the user's own contact (Telegram's request_contact button); a contact that is not
the sender's is refused. An SMS code to that number must be typed back: it proves the SIM is in
their hand. A registered number is then linked; an unregistered one registers here (language,
name, national ID, date of birth, PIN twice) into the same customer record USSD would create (the
identity registry check lifts a match to Tier 1, as on USSD), and is linked.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from telegram import ReplyKeyboardRemove

from channels.telegram import texts
from channels.telegram.conversation import SHORTCODE_KEY, Step, Turn, looks_like_pin
from channels.telegram.operations import Refusal
from core.flows.errors import AlreadyRegistered, InvalidName, InvalidNationalId, NationalIdTaken
from core.identity.errors import InvalidPhoneNumber, OtpExpired, OtpTooManyRequests
from core.identity.otp import OTP_DIGITS

MAX_CODE_INPUT = 16
MIN_AGE_YEARS = 18  # as compliance requires (compliance.kyc.MIN_AGE_YEARS)
EAT = timedelta(hours=3)


async def welcome(turn: Turn) -> None:
    turn.goto("link.contact", lang=turn.language)
    await turn.say(turn.t("telegram.welcome"), texts.contact_keyboard(turn.language))


async def contact(turn: Turn) -> None:
    message = turn.update.effective_message
    if message is None or message.contact is None:
        return
    if message.contact.user_id != turn.user_id or message.forward_origin is not None:
        await turn.say(turn.t("telegram.contact_not_own"), texts.contact_keyboard(turn.language))
        return
    if turn.customer is not None:
        turn.end()
        await turn.say(turn.t("telegram.menu"), texts.menu_keyboard(turn.language))
        return
    try:
        e164, registered = await turn.links.send_code(
            phone=message.contact.phone_number, language=turn.language
        )
    except InvalidPhoneNumber:
        await turn.say(turn.t("telegram.invalid_phone"), ReplyKeyboardRemove())
        return
    except OtpTooManyRequests as exc:
        await turn.say(texts.error_text(exc, turn.language), ReplyKeyboardRemove())
        return
    turn.goto("link.code", phone=e164, lang=turn.language, registered=registered)
    await turn.say(turn.t("telegram.code_sent", phone=e164, digits=OTP_DIGITS), ReplyKeyboardRemove())


async def code(turn: Turn, value: str) -> None:
    candidate = re.sub(r"\s", "", value)
    if len(candidate) > MAX_CODE_INPUT or not candidate.isdigit():
        raise Refusal("otp_format")
    phone = str(turn.data["phone"])
    try:
        customer = await turn.links.confirm(
            telegram_user_id=turn.user_id, chat_id=turn.chat_id, phone=phone, code=candidate
        )
    except OtpExpired:
        turn.end()
        await turn.say(turn.t("telegram.code_expired"))
        return
    if customer is None:  # the code proved the number: register it here
        turn.goto("reg.lang", phone=phone, lang=turn.language)
        await turn.say(turn.t("telegram.register.start"), texts.language_keyboard())
        return
    turn.end()
    turn.customer, turn.language = customer, customer.language
    await turn.say(
        turn.t("telegram.linked", name=customer.name or customer.phone), texts.menu_keyboard(turn.language)
    )


# --- registration ---------------------------------------------------------------------------------


async def language_chosen(turn: Turn, language: str) -> None:
    turn.language = language
    turn.data["lang"] = language
    turn.state = "reg.name"
    await turn.say(turn.t("telegram.register.name"))


async def name(turn: Turn, value: str) -> None:
    clean = " ".join(value.split())
    if not (2 <= len(clean) <= 60) or not re.fullmatch(r"[^\W\d_]+(?:[ '.-][^\W\d_]+)*\.?", clean):
        raise Refusal("invalid_name")
    turn.data["name"] = clean
    turn.state = "reg.id"
    await turn.say(turn.t("telegram.register.national_id"))


async def national_id(turn: Turn, value: str) -> None:
    if not (value.isascii() and value.isdigit() and 6 <= len(value) <= 9):
        raise Refusal("invalid_national_id")
    turn.data["national_id"] = value
    turn.state = "reg.dob"
    await turn.say(turn.t("telegram.register.dob"))


def parse_dob(value: str, *, today: date) -> date:
    """ "15/03/1990", "15-03-1990", "15.03.1990" or "15031990": a real date, 1900 or later, 18 or older."""
    digits = re.sub(r"[\s/.-]", "", value)
    if not (digits.isascii() and digits.isdigit() and len(digits) == 8):
        raise Refusal("invalid_dob")
    try:
        dob = date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError as exc:
        raise Refusal("invalid_dob") from exc
    if dob.year < 1900 or dob > today:
        raise Refusal("invalid_dob")
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    if age < MIN_AGE_YEARS:
        raise Refusal("dob_too_young")
    return dob


async def date_of_birth(turn: Turn, value: str) -> None:
    today = (turn.now() + EAT).date()
    turn.data["dob"] = parse_dob(value, today=today).isoformat()
    turn.state = "reg.pin"
    await turn.say(turn.t("telegram.register.pin"))


async def pin(turn: Turn, value: str) -> None:
    if not looks_like_pin(value):
        raise Refusal("invalid_pin")
    await turn.flows.check_new_pin(phone=str(turn.data["phone"]), pin=value)
    turn.scratch.keep(turn.user_id, "register", value)
    turn.state = "reg.pin2"
    await turn.say(turn.t("telegram.register.pin_confirm"))


async def pin_confirm(turn: Turn, value: str) -> None:
    first = turn.scratch.take(turn.user_id, "register")
    if first is None:  # another process took this step, or it waited too long: ask again
        turn.state = "reg.pin"
        await turn.say(turn.t("telegram.register.pin"))
        return
    if value != first:
        turn.state = "reg.pin"
        raise Refusal("pin_mismatch")
    phone = str(turn.data["phone"])
    try:
        await turn.flows.register(
            phone=phone, name=str(turn.data["name"]), national_id=str(turn.data["national_id"]), pin=value,
            language=turn.language, idempotency_key=f"tg:{turn.user_id}:register:{phone}",
            date_of_birth=date.fromisoformat(str(turn.data["dob"])) if turn.data.get("dob") else None,
        )  # fmt: skip
    except AlreadyRegistered:  # registered meanwhile (on USSD): the SMS code proved the number, link it
        pass
    except (NationalIdTaken, InvalidNationalId, InvalidName) as exc:  # back to the answer to change
        turn.state = "reg.name" if isinstance(exc, InvalidName) else "reg.id"
        prompt = "telegram.register.name" if isinstance(exc, InvalidName) else "telegram.register.national_id"
        await turn.say(texts.error_text(exc, turn.language) + "\n" + turn.t(prompt))
        return
    customer = await turn.links.link_registered(
        telegram_user_id=turn.user_id, chat_id=turn.chat_id, phone=phone
    )
    turn.end()
    turn.customer = customer
    await turn.say(turn.t("telegram.register.done", name=customer.name), texts.menu_keyboard(turn.language))


async def contact_expected(turn: Turn, value: str) -> None:
    await turn.say(turn.t("telegram.welcome"), texts.contact_keyboard(turn.language))


def shortcode(turn: Turn) -> str:
    return str(turn.context.bot_data.get(SHORTCODE_KEY, ""))


STEPS = [
    Step("link.contact", contact_expected, linked=False),
    Step("link.code", code, linked=False),
    Step("reg.name", name, linked=False),
    Step("reg.id", national_id, linked=False),
    Step("reg.dob", date_of_birth, linked=False),
    Step("reg.pin", pin, secret=True, linked=False),
    Step("reg.pin2", pin_confirm, secret=True, linked=False),
]
