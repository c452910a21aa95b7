"""Pay a merchant over USSD (Send -> 3): till -> registered name -> amount KES -> source -> PIN."""

from __future__ import annotations

from channels.ussd.engine import Engine
from channels.ussd.session import MemorySessionStore
from channels.ussd.states import TABLE
from core.money import Asset, Money
from tests.unit.ussd.conftest import Phone
from tests.unit.ussd.fakes import FAKE_TILL, FakeFlows

NUMBER = "+254712345678"


def _phone(flows: FakeFlows, language: str = "en") -> tuple[Phone, int]:
    cid = flows.add_customer(NUMBER, language=language)
    engine = Engine(table=TABLE, store=MemorySessionStore(), flows=flows, secret=b"test-secret")
    return Phone(engine, NUMBER), cid


async def _to_till(phone: Phone) -> str:
    await phone.dial()
    menu = await phone.send("4")
    assert "3 Pay merchant" in menu or "3 Lipa mfanyabiashara" in menu
    assert "soon" not in menu and "karibuni" not in menu
    return await phone.send("3")


async def test_pay_from_kes_balance_in_english() -> None:
    flows = FakeFlows()
    phone, cid = _phone(flows)
    assert "till number" in await _to_till(phone)
    amount_screen = await phone.send(FAKE_TILL)
    assert "Pay Mama Mboga Stores" in amount_screen and f"Till {FAKE_TILL}" in amount_screen
    source = await phone.send("300")
    assert "Pay KES 300.00 from" in source and "1 KES balance (KES 5,000.00)" in source
    confirm = await phone.send("1")
    assert confirm.startswith("CON Pay KES 300.00 to Mama Mboga Stores, till 123456")
    done = await phone.send("4826")
    assert done.startswith("END Paid KES 300.00 to Mama Mboga Stores. Ref KP1.")
    assert flows.wallets[(cid, Asset.KES)] == Money.of("4700", Asset.KES)
    assert [kind for kind, _ in flows.movements] == ["merchant"]


async def test_pay_from_kes_balance_in_swahili() -> None:
    flows = FakeFlows()
    phone, cid = _phone(flows, "sw")
    assert "nambari ya till" in await _to_till(phone)
    assert "Lipa Mama Mboga Stores" in await phone.send(FAKE_TILL)
    assert "1 Salio la KES" in await phone.send("300")
    assert "Weka PIN" in await phone.send("1")
    done = await phone.send("4826")
    assert done.startswith("END Umelipa KES 300.00 kwa Mama Mboga Stores.")
    assert flows.wallets[(cid, Asset.KES)] == Money.of("4700", Asset.KES)


async def test_unknown_till_moves_nothing_and_asks_again() -> None:
    flows = FakeFlows()
    phone, cid = _phone(flows)
    await _to_till(phone)
    reply = await phone.send("12345")
    assert reply.startswith("CON No merchant with till 12345") and "till number" in reply
    assert flows.movements == []
    assert flows.wallets[(cid, Asset.KES)] == Money.of("5000", Asset.KES)


async def test_unknown_till_in_swahili() -> None:
    flows = FakeFlows()
    phone, _ = _phone(flows, "sw")
    await _to_till(phone)
    assert "Hakuna mfanyabiashara mwenye till 12345" in await phone.send("12345")


async def test_pay_from_crypto_at_a_locked_quote() -> None:
    flows = FakeFlows()
    phone, cid = _phone(flows)
    await _to_till(phone)
    await phone.send(FAKE_TILL)
    await phone.send("259")
    confirm = await phone.send("4")  # USDT (TRC20)
    assert "With USDT 2.00" in confirm and "Rate" in confirm and "Enter PIN" in confirm
    done = await phone.send("4826")
    assert done.startswith("END Paid KES 259.00 to Mama Mboga Stores")
    assert flows.wallets[(cid, Asset.USDT_TRC20)] == Money.of("23.5", Asset.USDT_TRC20)
    assert flows.wallets[(cid, Asset.KES)] == Money.of("5000", Asset.KES)


async def test_more_than_the_kes_balance_is_refused_before_the_pin() -> None:
    flows = FakeFlows()
    phone, _ = _phone(flows)
    await _to_till(phone)
    await phone.send(FAKE_TILL)
    await phone.send("6000")
    reply = await phone.send("1")
    assert "from" in reply and "Enter PIN" not in reply
    assert flows.movements == []


async def test_a_repeated_pin_hop_pays_once() -> None:
    flows = FakeFlows()
    phone, cid = _phone(flows)
    await _to_till(phone)
    await phone.send(FAKE_TILL)
    await phone.send("300")
    await phone.send("1")
    first = await phone.send("4826")
    assert await phone.repeat() == first  # Africa's Talking retried the hop
    assert len(flows.movements) == 1
    assert flows.wallets[(cid, Asset.KES)] == Money.of("4700", Asset.KES)
