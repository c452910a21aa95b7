"""The acceptance tester's USSD findings (issues 4 and 6), each reproduced, in English and Swahili."""

from __future__ import annotations

from decimal import Decimal

from channels.ussd.engine import Engine, HopRequest
from core.errors import KibetiError
from core.flows.errors import Refused
from core.ledger.errors import InsufficientFunds
from tests.unit.ussd.conftest import Phone
from tests.unit.ussd.fakes import FakeFlows


async def _buy_to_quote(phone: Phone, amount: str = "500") -> str:
    await phone.dial()
    await phone.send("2")
    await phone.send("3")
    await phone.send("1")  # H5a: pay from M-Pesa
    return await phone.send(amount)


# 1. resume -------------------------------------------------------------------------------------


async def test_no_resume_offered_when_nothing_was_entered(engine: Engine, flows: FakeFlows) -> None:
    flows.add_customer("+254712345678")
    phone = Phone(engine, "+254712345678")
    await phone.dial()
    await phone.send("2")
    await phone.send("3")
    assert "Enter the KES amount" in await phone.send("1")  # the network drops at the amount screen
    again = await Phone(engine, "+254712345678").dial()
    assert "Continue" not in again and "1 Balances" in again


async def test_no_resume_after_a_terminal_limit_error(engine: Engine, flows: FakeFlows) -> None:
    async def refuse(**_: object) -> None:
        raise Refused("limit_transaction_exceeded", details={"limit": "70000"})

    flows.add_customer("+254712345678")
    flows.confirm_buy = refuse  # type: ignore[method-assign, assignment]
    phone = Phone(engine, "+254712345678")
    await _buy_to_quote(phone, "200000")
    assert (await phone.send("4826")).startswith("END ")
    again = await Phone(engine, "+254712345678").dial()
    assert "Continue" not in again and "1 Balances" in again


async def test_no_resume_after_a_pin_lock(engine: Engine, flows: FakeFlows) -> None:
    flows.add_customer("+254712345678")
    phone = Phone(engine, "+254712345678")
    await _buy_to_quote(phone)
    await phone.send("1111")
    await phone.send("2222")
    assert (await phone.send("3333")).startswith("END PIN locked")
    assert "Continue" not in await Phone(engine, "+254712345678").dial()


async def test_resume_still_offered_after_a_drop(engine: Engine, flows: FakeFlows) -> None:
    flows.add_customer("+254712345678")
    await _buy_to_quote(Phone(engine, "+254712345678"), "700")
    assert "Continue your purchase of KES 700.00?" in await Phone(engine, "+254712345678").dial()


# 2. the fee on a send to an unregistered number ------------------------------------------------


async def test_send_to_unregistered_shows_the_fee(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    flows.send_fee = Decimal("0.005")
    await phone.dial()
    await phone.send("4")
    await phone.send("1")  # send menu: to a phone number
    await phone.send("0733444555")
    await phone.send("4")
    confirm = await phone.send("1")
    assert "USDT 0.995" in confirm and "Fee USDT 0.005" in confirm, confirm


async def test_send_to_unregistered_shows_the_fee_in_swahili(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number, language="sw")
    flows.send_fee = Decimal("0.005")
    await phone.dial()
    await phone.send("4")
    await phone.send("1")  # send menu: to a phone number
    await phone.send("0733444555")
    await phone.send("4")
    confirm = await phone.send("1")
    assert "Ada USDT 0.005" in confirm, confirm


# 3. demo rates ---------------------------------------------------------------------------------


async def test_demo_quotes_are_labelled(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    flows.demo = True
    assert "DEMO" in await _buy_to_quote(phone)


async def test_demo_quotes_are_labelled_in_swahili(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number, language="sw")
    flows.demo = True
    await phone.dial()
    await phone.send("3")
    await phone.send("3")
    await phone.send("3")  # H5a: sell an amount in the crypto
    assert "MAJARIBIO" in await phone.send("10")


async def test_live_quotes_carry_no_demo_label(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    assert "DEMO" not in await _buy_to_quote(phone)


# 4. no English in Swahili ----------------------------------------------------------------------


async def test_kyc_tier_in_swahili(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number, language="sw")
    await phone.dial()
    await phone.send("9")
    reply = await phone.send("3")
    assert "(Kiwango 2)" in reply and "Tier" not in reply, reply


async def test_quote_validity_in_swahili_says_sek(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number, language="sw")
    await phone.dial()
    await phone.send("2")
    await phone.send("3")
    await phone.send("1")  # H5a: pay from M-Pesa
    quote = await phone.send("500")
    assert "sek 60" in quote and "60s" not in quote, quote


async def test_crash_fallback_speaks_the_customers_language(engine: Engine, flows: FakeFlows) -> None:
    async def crash(**_: object) -> None:
        raise RuntimeError("boom")

    flows.add_customer("+254712345678", language="sw")
    flows.balances = crash  # type: ignore[method-assign, assignment]
    phone = Phone(engine, "+254712345678")
    await phone.dial()
    assert (await phone.send("1")).startswith("END Hitilafu imetokea")


async def test_session_hijack_reply_speaks_the_callers_language(engine: Engine, flows: FakeFlows) -> None:
    flows.add_customer("+254712345678")
    flows.add_customer("+254722000111", language="sw")
    await engine.hop(HopRequest("S9", "+254712345678", ""))
    other = await engine.hop(HopRequest("S9", "+254722000111", "1"))
    assert other.end and other.text.startswith("Hitilafu imetokea")


def test_cooldown_in_swahili_says_reset() -> None:
    from core.i18n import translate

    assert "PIN kuwekwa upya" in translate("error.withdrawals_cooldown", "sw")


# 5. clearer messages ---------------------------------------------------------------------------


async def test_wrong_pin_says_how_many_tries_are_left(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    await _buy_to_quote(phone)
    assert "2 tries left" in await phone.send("1111")
    assert "1 try left" in await phone.send("2222")
    locked = await phone.send("3333")
    assert locked.startswith("END PIN locked") and "1 min" in locked, locked


async def test_wrong_pin_in_swahili(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number, language="sw")
    await _buy_to_quote(phone)
    assert "Majaribio yaliyobaki: 2" in await phone.send("1111")
    await phone.send("2222")
    assert "dakika 1" in await phone.send("3333")


async def test_amount_too_small_gives_the_minimum(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    reply = await _buy_to_quote(phone, "5")
    assert "minimum is KES 10.00" in reply and "Enter the KES amount" in reply, reply


async def test_name_with_digits_is_explained(phone: Phone) -> None:
    await phone.dial()
    await phone.send("1")
    assert "letters and spaces only" in await phone.send("Jane2")


async def test_not_enough_balance_at_the_pin_step_ends(phone: Phone, flows: FakeFlows) -> None:
    async def short(**_: object) -> None:
        raise InsufficientFunds("the balance moved since the quote")

    flows.add_customer(phone.number)
    flows.confirm_sell = short  # type: ignore[method-assign, assignment]
    await phone.dial()
    await phone.send("3")
    await phone.send("3")
    await phone.send("3")  # H5a: sell an amount in the crypto
    await phone.send("10")
    reply = await phone.send("4826")
    assert reply.startswith("END Not enough balance") and "PIN" not in reply, reply
    assert "Continue" not in await Phone(phone.engine, phone.number).dial()


# 6. one national ID, one wallet ----------------------------------------------------------------


async def _register(engine: Engine, number: str, language: str, national_id: str) -> str:
    phone = Phone(engine, number)
    await phone.dial()
    for value in (language, "Amina Wanjiru", national_id, "15031990", "1", "4826"):
        await phone.send(value)
    return await phone.send("4826")


async def test_national_id_registered_on_another_number_is_refused(engine: Engine) -> None:
    assert (await _register(engine, "+254712345678", "1", "12345678")).startswith("END Welcome")
    reply = await _register(engine, "+254722000111", "1", "12345678")
    assert reply.startswith("END ") and "customer care" in reply, reply
    reply = await _register(engine, "+254733000222", "2", "12345678")
    assert reply.startswith("END ") and "huduma kwa wateja" in reply, reply


async def test_national_id_taken_is_a_flows_error() -> None:
    flows = FakeFlows()
    kwargs = {"name": "Amina Wanjiru", "national_id": "12345678", "pin": "4826", "language": "en"}
    await flows.register(phone="+254712345678", idempotency_key="a", **kwargs)
    assert (await flows.register(phone="+254712345678", idempotency_key="a", **kwargs)).id == 1
    try:
        await flows.register(phone="+254722000111", idempotency_key="b", **kwargs)
    except KibetiError as exc:
        assert exc.code == "national_id_taken"
    else:
        raise AssertionError("a second number registered the same national ID")


async def test_sell_under_the_mpesa_payout_minimum_gives_it(phone: Phone, flows: FakeFlows) -> None:
    from core.quotes.errors import AmountTooSmall

    async def tiny(**_: object) -> None:
        raise AmountTooSmall("the M-Pesa minimum payout is KES 10")

    flows.add_customer(phone.number, language="sw")
    flows.quote_sell = tiny  # type: ignore[method-assign, assignment]
    await phone.dial()
    await phone.send("3")
    await phone.send("3")
    await phone.send("3")  # H5a: sell an amount in the crypto
    reply = await phone.send("0.01")
    assert "M-Pesa hulipa angalau KES 10.00" in reply and "Uza USDT-TRC20" in reply, reply


async def test_send_eaten_by_the_fee_says_so(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    flows.send_fee = Decimal(1)  # the fee is the whole amount
    await phone.dial()
    await phone.send("4")
    await phone.send("1")  # send menu: to a phone number
    await phone.send("0733444555")
    await phone.send("4")
    reply = await phone.send("0.000001")
    assert "too small to cover the fee" in reply and "Enter the amount" in reply, reply
