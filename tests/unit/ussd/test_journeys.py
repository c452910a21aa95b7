"""Full USSD journeys through the engine with in-memory flows, in English and Swahili."""

from __future__ import annotations

from datetime import timedelta

from core.money import Asset, Money
from tests.unit.ussd.conftest import Phone


async def test_registration_in_swahili(phone: Phone, flows) -> None:
    assert (await phone.dial()).startswith("CON Karibu Kibeti")
    assert "jina" in await phone.send("2")
    assert "Chaguo" not in await phone.send("Amina Wanjiru")
    assert "kuzaliwa" in await phone.send("12345678")
    assert "si sahihi" in await phone.send("31021990")  # 31 February
    assert "masharti" in await phone.send("15031990")
    assert "PIN" in await phone.send("1")
    assert "tena" in await phone.send("4826")
    reply = await phone.send("4826")
    assert reply.startswith("END Karibu Kibeti, Amina!")
    assert flows.customers["+254712345678"].language == "sw"


async def test_registration_english_validation_and_pin_mismatch(phone: Phone) -> None:
    await phone.dial()
    await phone.send("1")
    assert "Enter your name" in await phone.send("4")
    await phone.send("John Kamau")
    assert "6 to 9 digits" in await phone.send("12ab")
    await phone.send("23456789")
    assert "18 or older" in await phone.send("01012020")
    await phone.send("15031990")
    await phone.send("1")
    assert "too easy" in await phone.send("1234")
    await phone.send("4826")
    reply = await phone.send("4827")
    assert "do not match" in reply and "Create a 4-digit PIN" in reply
    await phone.send("4826")
    assert (await phone.send("4826")).startswith("END Welcome to Kibeti, John!")


async def test_declining_terms_ends(phone: Phone, flows) -> None:
    await phone.dial()
    await phone.send("1")
    await phone.send("John Kamau")
    await phone.send("23456789")
    await phone.send("15031990")
    assert (await phone.send("2")).startswith("END Registration cancelled")
    assert not flows.customers


async def test_back_and_main_navigation(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    assert "1 Balances" in await phone.dial()
    balances = await phone.send("1")
    assert "KES 5,000.00" in balances and "USDT-TRC20: 25.50 ~KES 3,302" in balances
    assert "1 Balances" in await phone.send("0")
    await phone.send("2")
    assert "2 Kibeti KES balance" in await phone.send("3")
    assert "Enter the KES amount" in await phone.send("1")  # H5a: pay from M-Pesa
    await phone.send("0")
    assert "Buy which crypto" in await phone.send("0")
    assert "1 Balances" in await phone.send("00")
    assert "Invalid choice" in await phone.send("10")


async def test_buy_once_even_when_the_hop_repeats(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("2")
    await phone.send("3")
    await phone.send("1")  # H5a: pay from M-Pesa
    assert "Invalid amount" in await phone.send("1*000")
    quote = await phone.send("1000")
    assert "Pay KES 1,000.00" in quote and "Enter PIN" in quote
    done = await phone.send("4826")
    assert done.startswith("END Approve the M-Pesa prompt")
    assert await phone.repeat() != ""  # AT retried the last hop: no second purchase
    assert [kind for kind, _ in flows.movements] == ["buy"]


async def test_wrong_pin_lockout(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("2")
    await phone.send("1")
    await phone.send("1")  # H5a: pay from M-Pesa
    await phone.send("500")
    assert "Wrong PIN" in await phone.send("1111")
    assert "Wrong PIN" in await phone.send("2222")
    assert (await phone.send("3333")).startswith("END PIN locked")
    assert flows.movements == []


async def test_expired_quote(phone: Phone, flows) -> None:
    flows.add_customer(phone.number, language="sw")
    await phone.dial()
    await phone.send("2")
    await phone.send("2")
    await phone.send("1")  # H5a: pay from M-Pesa
    assert "Lipa KES 2,000.00" in await phone.send("2000")
    flows.now += timedelta(seconds=61)
    assert (await phone.send("4826")).startswith("END Bei imepitwa na muda")
    assert flows.movements == []


async def test_session_timeout(phone: Phone, flows, clock) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    clock.t += 181
    assert (await phone.send("1")).startswith("END Your session expired")


async def test_sell_resume_after_drop(engine, flows, clock) -> None:
    flows.add_customer("+254712345678")
    phone = Phone(engine, "+254712345678")
    await phone.dial()
    await phone.send("3")
    await phone.send("3")
    await phone.send("3")  # H5a: sell an amount in the crypto
    assert "Insufficient" not in await phone.send("10")  # quote shown; the network drops here
    again = Phone(engine, "+254712345678")
    assert "Continue your sale of USDT 10.00?" in await again.dial()
    quote = await again.send("1")
    assert "Sell USDT 10.00" in quote
    assert (await again.send("4826")).startswith("END Done.")
    assert flows.wallets[(1, Asset.USDT_TRC20)] == Money.of("15.5", Asset.USDT_TRC20)
    assert "1 Balances" in await Phone(engine, "+254712345678").dial()  # no resume after completion


async def test_resume_declined_and_expired(engine, flows, clock) -> None:
    flows.add_customer("+254712345678")
    phone = Phone(engine, "+254712345678")
    await phone.dial()
    await phone.send("2")
    await phone.send("1")
    await phone.send("1")  # H5a: pay from M-Pesa
    await phone.send("700")
    again = Phone(engine, "+254712345678")
    assert "purchase of KES 700.00" in await again.dial()
    assert "1 Balances" in await again.send("2")
    clock.t += 301
    assert "1 Balances" in await Phone(engine, "+254712345678").dial()


async def test_sell_more_than_balance(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("3")
    assert "You have USDT 25.50" in await phone.send("3")
    await phone.send("3")  # H5a: sell an amount in the crypto
    assert "Not enough balance" in await phone.send("26")


async def test_send_to_registered_shows_name(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    flows.add_customer("+254722000111", name="Otieno Odhiambo")
    await phone.dial()
    await phone.send("4")
    await phone.send("1")  # send menu: to a phone number
    assert "Invalid phone" in await phone.send("12345")
    await phone.send("0722 000 111")
    await phone.send("1")
    confirm = await phone.send("500")
    assert "Otieno Odhiambo 0722000111" in confirm
    assert (await phone.send("4826")).startswith("END Sent KES 500.00 to Otieno Odhiambo")


async def test_send_to_unregistered_waits_in_claim(phone: Phone, flows) -> None:
    flows.add_customer(phone.number, language="sw")
    await phone.dial()
    await phone.send("4")
    await phone.send("1")  # send menu: to a phone number
    await phone.send("0733444555")
    await phone.send("1")
    assert "hayuko Kibeti" in await phone.send("250")
    assert (await phone.send("4826")).startswith("END KES 250.00 inamsubiri 0733444555")
    assert flows.claims and flows.sms == [("+254733444555", "invite")]


async def test_receive_address(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("6")
    reply = await phone.send("3")
    assert reply.startswith("END Your USDT-TRC20 address:\nTJRab")


async def test_statement_paginates(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    first = await phone.send("7")
    assert "98 More" in first
    second = await phone.send("98")
    assert second != first and "Last movements" in second


async def test_change_pin_and_language(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("9")
    await phone.send("1")
    await phone.send("4826")
    await phone.send("5937")
    assert (await phone.send("5937")).startswith("END Your PIN has been changed")
    assert flows.pins[1] == "5937"
    await phone.dial()
    await phone.send("9")
    assert (await phone.send("2")).startswith("CON Choose language")
    assert (await phone.send("2")).startswith("END Lugha imewekwa")


async def test_kyc_status(phone: Phone, flows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("9")
    reply = await phone.send("3")
    assert reply.startswith("END KYC: verified (Tier 2)") and "KES 150,000.00" in reply


async def test_compliance_limit_is_explained(phone: Phone, flows) -> None:
    from core.flows.errors import Refused

    async def refuse(**_: object) -> None:
        raise Refused("limit_daily_exceeded", details={"limit": "100000", "remaining": "2500.5"})

    flows.add_customer(phone.number, language="sw")
    flows.confirm_buy = refuse
    await phone.dial()
    await phone.send("2")
    await phone.send("1")
    await phone.send("1")  # H5a: pay from M-Pesa
    await phone.send("5000")
    reply = await phone.send("4826")
    assert (
        reply
        == "END Hii inazidi kikomo chako cha siku cha KES 100,000.00. Bado unaweza kutumia KES 2,500.50 leo."
    )


async def test_session_bound_to_its_number(engine, flows) -> None:
    from channels.ussd.engine import HopRequest

    flows.add_customer("+254712345678")
    await engine.hop(HopRequest("S9", "+254712345678", ""))
    other = await engine.hop(HopRequest("S9", "+254722000111", "1"))
    assert other.end and "went wrong" in other.text
