"""The resume question offers only a recent, unfinished operation at a screen of its own kind; a
key path typed at the question goes to the main menu instead of resuming anything."""

from __future__ import annotations

from channels.ussd.engine import RESUME_OFFER_SECONDS, Engine
from channels.ussd.session import MemorySessionStore, ResumePoint
from channels.ussd.states import TABLE
from tests.unit.ussd.conftest import Clock, Phone
from tests.unit.ussd.fakes import FAKE_TILL, FakeFlows

NUMBER = "+254712345678"


def _engine(flows: FakeFlows, clock: Clock, language: str = "en") -> Engine:
    flows.add_customer(NUMBER, language=language)
    return Engine(table=TABLE, store=MemorySessionStore(now=clock), flows=flows, secret=b"s", now=clock)


async def _abandon_a_merchant_payment(engine: Engine) -> None:
    phone = Phone(engine, NUMBER)
    if "1 Yes" in await phone.dial():  # an earlier one offered: not this time
        await phone.send("2")
    await phone.send("4")
    await phone.send("3")
    await phone.send(FAKE_TILL)
    assert "KES 300.00" in await phone.send("300")  # the network drops here


async def test_a_recent_payment_is_offered_an_old_one_is_not() -> None:
    clock, flows = Clock(), FakeFlows()
    engine = _engine(flows, clock)
    await _abandon_a_merchant_payment(engine)
    clock.t += RESUME_OFFER_SECONDS - 5
    assert "Continue your payment of KES 300.00" in await Phone(engine, NUMBER).dial()
    await _abandon_a_merchant_payment(engine)
    clock.t += RESUME_OFFER_SECONDS + 1  # still in the store (its TTL is longer), but old
    again = await Phone(engine, NUMBER).dial()
    assert "Continue" not in again and "1 Balances" in again


async def test_a_key_path_typed_at_the_question_goes_to_the_main_menu() -> None:
    clock, flows = Clock(), FakeFlows()
    engine = _engine(flows, clock, language="sw")
    await _abandon_a_merchant_payment(engine)
    phone = Phone(engine, NUMBER)
    assert "Endelea" in await phone.dial()
    menu = await phone.send("1*4826")  # typed at once, as a full key path
    assert "1 Salio" in menu and "Lipa KES 300.00" not in menu, menu
    assert flows.movements == []
    assert "Endelea" not in await Phone(engine, NUMBER).dial()  # and it is not offered again


async def test_a_point_at_another_kinds_screen_is_not_offered() -> None:
    clock, flows = Clock(), FakeFlows()
    engine = _engine(flows, clock)
    point = ResumePoint(
        "merchant.source", {"kind": "buy", "describe": "KES 300.00", "op": "x:1"}, ["main"], saved_at=clock()
    )
    await engine.store.save_resume(NUMBER, point)
    assert "Continue" not in await Phone(engine, NUMBER).dial()
    point.data["kind"] = "merchant"
    await engine.store.save_resume(NUMBER, point)
    assert "Continue your payment of KES 300.00" in await Phone(engine, NUMBER).dial()


async def test_a_point_saved_before_its_time_was_recorded_is_not_offered() -> None:
    clock, flows = Clock(), FakeFlows()
    engine = _engine(flows, clock)
    old = '{"state":"merchant.source","data":{"kind":"merchant","describe":"KES 300.00"},"history":["main"]}'
    assert ResumePoint.loads(old).saved_at == 0.0
    await engine.store.save_resume(NUMBER, ResumePoint.loads(old))
    assert "Continue" not in await Phone(engine, NUMBER).dial()
