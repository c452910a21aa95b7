"""Pay a merchant in chat from the KES balance, as USSD's Send -> 3 does (the same CustomerFlows use
cases and the same texts): till code -> the merchant's registered name -> amount in KES -> PIN (the
message deleted before anything else) -> receipt. An unknown till asks again and moves nothing, a
till that is not digits ("12a") is told it must be digits (not looked up); a wrong PIN keeps the
step; the idempotency key is the quote's, so a PIN typed twice pays once."""

from __future__ import annotations

from datetime import datetime

from channels.telegram import texts
from channels.telegram.conversation import Step, Turn, looks_like_pin
from core.errors import KibetiError
from core.flows.errors import AmountOverLimit
from core.money import Asset, Money, parse_amount
from core.quotes.errors import AmountTooSmall, QuoteExpired

KES_FORMAT = "amount_format_kes_any"  # the balance pays, so cents are fine: "like 500 or 100.50"


class Refusal(KibetiError):
    """`error.<code>` with its values, told by run_step in the customer's words."""

    def __init__(self, code: str, **values: str) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


async def begin(turn: Turn) -> None:
    turn.goto("pay.till")
    await turn.say(turn.t("ussd.merchant.till"))


async def till(turn: Turn, value: str) -> None:
    typed = value.strip()
    if not (typed.isascii() and typed.isdigit()):  # "12a" is a typo, not an unknown merchant (as USSD)
        raise Refusal("merchant_till_digits")
    merchant = await turn.flows.find_merchant(till=typed[:12])
    turn.goto("pay.amount", till=merchant.till_code, name=merchant.name)
    await turn.say(turn.t("ussd.merchant.amount", name=merchant.name, till=merchant.till_code))


async def amount(turn: Turn, value: str) -> None:
    try:  # the parser every channel uses: "1,50" is ambiguous and refused, not read as 150
        kes = parse_amount(value, Asset.KES)
    except (KibetiError, ArithmeticError, ValueError) as exc:
        raise Refusal(KES_FORMAT) from exc
    lines = await turn.flows.balances(customer_id=turn.customer_id)
    balance = next((line.amount for line in lines if line.asset is Asset.KES), Money.zero(Asset.KES))
    if kes > balance:
        raise Refusal("insufficient_funds")
    try:
        await turn.flows.check_amount(customer_id=turn.customer_id, kind="send", amount=kes)
        quote = await turn.flows.quote_pay_merchant(
            customer_id=turn.customer_id, till=turn.data["till"], amount=kes, asset=Asset.KES
        )
    except AmountOverLimit as exc:
        raise Refusal(exc.code, max=str(exc.values.get("max", "")), how="") from exc
    except AmountTooSmall as exc:
        raise Refusal("amount_below_fee") from exc
    # a KES payment's quote is the amount itself (no rate, no expiry); a crypto one would hold a while
    expires = quote.expires_at.isoformat() if quote.expires_at > turn.now() else ""
    turn.data.update(amount=str(kes.amount), quote=quote.id, expires=expires)
    turn.new_token()
    turn.state = "pay.pin"
    shown = texts.money(kes, turn.language)
    await turn.say(
        turn.t("ussd.merchant.confirm", amount=shown, name=turn.data["name"], till=turn.data["till"])
    )


async def pin(turn: Turn, value: str) -> None:
    """The PIN (its message already deleted by the handler)."""
    if not looks_like_pin(value):
        raise Refusal("invalid_pin")
    expires = str(turn.data.get("expires") or "")
    if expires and turn.now() >= datetime.fromisoformat(expires):
        await _expired(turn)
        return
    try:
        receipt = await turn.flows.confirm_pay_merchant(
            customer_id=turn.customer_id, till=turn.data["till"], quote_id=turn.data["quote"], pin=value,
            idempotency_key=f"tg:{turn.user_id}:pay:{turn.data['token']}",
        )  # fmt: skip
    except QuoteExpired:
        await _expired(turn)
        return
    name = turn.data["name"]
    turn.end()
    done = turn.t(
        "ussd.merchant.done",
        amount=texts.money(receipt.amount, turn.language),
        name=name,
        ref=receipt.reference,
    )
    await turn.say(done, texts.menu_keyboard(turn.language))


async def _expired(turn: Turn) -> None:
    turn.end()
    await turn.say(turn.t("error.quote_expired"), texts.menu_keyboard(turn.language))


STEPS = [
    Step("pay.till", till),
    Step("pay.amount", amount),
    Step("pay.pin", pin, secret=True),
]
