"""Issue 19's money paths on the engine with the in-memory flows: cash out with resume, a limit told
at the amount step (the session stays open), sell all / by KES, buy from the KES balance, withdraw to
a saved address, in English and Swahili."""

from __future__ import annotations

from channels.ussd.engine import Engine
from core.addressbook.models import SavedAddressView
from core.money import Asset, Money
from tests.unit.ussd.conftest import Phone
from tests.unit.ussd.fakes import FakeFlows

TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


async def test_cash_out_resumes_after_a_drop_and_moves_once(engine: Engine, flows: FakeFlows) -> None:
    flows.add_customer("+254712345678")  # KES 5,000; the fake's fee is KES 30
    phone = Phone(engine, "+254712345678")
    await phone.dial()
    assert "Max KES 4,970.00 (+fee)" in await phone.send("5")
    confirm = await phone.send("500")
    assert "Fee KES 30.00" in confirm and "Left in wallet KES 4,470.00" in confirm  # the network drops
    again = Phone(engine, "+254712345678")
    assert "Continue your cash out of KES 500.00?" in await again.dial()
    assert "Cash out KES 500.00 to M-Pesa 0712345678" in await again.send("1")
    assert (await again.send("4826")).startswith("END Done. KES 500.00 is on its way")
    assert await again.repeat() != ""
    assert [kind for kind, _ in flows.movements] == ["cashout"]
    assert flows.wallets[(1, Asset.KES)] == Money.of("4470", Asset.KES)


async def test_a_limit_keeps_the_session_open_in_swahili(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number, language="sw")
    flows.limit_kes = Money.of("1000", Asset.KES)
    await phone.dial()
    await phone.send("5")
    refused = await phone.send("2000")
    assert refused.startswith("CON Kiasi kikubwa mno: hadi KES 1,000.00 kwa muamala.") and refused.endswith(
        "Weka kiasi cha KES"
    ), refused
    assert "Ada KES 30.00" in await phone.send("900")
    assert flows.movements == []


async def test_sell_all_and_sell_by_kes(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("3")
    assert "1 All\n2 Amount in KES\n3 Amount in USDT" in await phone.send("3")
    assert "Sell USDT 25.50" in await phone.send("1")  # everything, no typing of decimals
    await phone.send("0")
    await phone.send("0")
    await phone.send("3")
    assert "Enter the KES to get on M-Pesa" in await phone.send("2")
    quote = await phone.send("1000")
    assert "To M-Pesa KES 1,000.00" in quote and "Kept in wallet KES 0.40" in quote, quote
    assert (await phone.send("4826")).startswith("END Done.")


async def test_buy_from_the_kes_balance(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("2")
    await phone.send("3")
    assert "You have KES 5,000.00" in await phone.send("2")
    assert "Not enough balance" in await phone.send("6000")
    assert "Invalid amount. Enter an amount like 500 or 100.50" in await phone.send("5OO")
    assert "Pay KES 500.00 from KES balance" in await phone.send("500")
    assert (await phone.send("4826")).startswith("END Done. You bought USDT ")


async def test_withdraw_to_a_saved_address_in_swahili(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number, language="sw")
    flows.book = [SavedAddressView(7, "Binance", Asset.USDT_TRC20, TRON)]
    await phone.dial()
    await phone.send("4")
    assert "Tuma kwa\n1 Binance TRC20 (...Lj6t)" in await phone.send("2")
    assert "Chaguo si sahihi" in await phone.send("2")
    assert "Una USDT 25.50" in await phone.send("1")
    assert "Weka mfano 25.5 au 0.0005" in await phone.send("kumi")
    confirm = await phone.send("10")
    assert confirm.startswith("CON Unatuma USDT 10.00\nInafika USDT 8.95\nAda USDT 1.05 pamoja na mtandao"), (
        confirm
    )
    assert (await phone.send("4826")).startswith("END Imekamilika. USDT 8.95 inatumwa kwa Binance (...Lj6t)")
    assert [kind for kind, _ in flows.movements] == ["withdraw"]


async def test_no_saved_address_ends_with_how_to_save_one(phone: Phone, flows: FakeFlows) -> None:
    flows.add_customer(phone.number)
    await phone.dial()
    await phone.send("4")
    assert (await phone.send("2")).startswith("END You have no saved addresses. Save one on Telegram")
