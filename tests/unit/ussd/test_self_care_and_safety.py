"""Issue 19 (menu, top-up, rates, pending, help and forgotten PIN, resume) and issue 11 (a retried
final hop, change PIN with a wrong current PIN, no PIN or ID kept in the session), in both languages.

(Named to run after the synchronous test_form/test_fuzz: a sync test driving its own event loop
after pytest-asyncio's tests leaves an unclosed loop behind, which fails the run.)"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from channels.ussd.engine import Contacts, Engine
from channels.ussd.session import MemorySessionStore
from channels.ussd.states import TABLE
from core.flows.errors import Refused
from core.flows.types import PendingLine
from core.money import Asset, Money
from tests.unit.ussd.conftest import Clock, Phone
from tests.unit.ussd.fakes import FakeFlows

NUMBER = "+254712345678"
CONTACTS = Contacts(care_phone="0800 720 111", paybill="600123")


@pytest.fixture
def store(clock: Clock) -> MemorySessionStore:
    return MemorySessionStore(now=clock)


@pytest.fixture
def engine(flows: FakeFlows, store: MemorySessionStore) -> Engine:
    return Engine(table=TABLE, store=store, flows=flows, secret=b"test-secret", contacts=CONTACTS)


def _customer(flows: FakeFlows, language: str = "en") -> int:
    cid = flows.add_customer(NUMBER, language=language)
    flows.national_ids[NUMBER] = "31234567"
    return cid


# the main menu -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "5 Cash out to M-Pesa",
                "6 Deposit & top up",
                "7 Statement & pending",
                "8 Rates",
                "9 My account",
            ],
        ),
        ("sw", ["5 Toa pesa kwa M-Pesa", "6 Weka pesa", "8 Bei za leo", "9 Akaunti yangu"]),
    ],
)
async def test_main_menu_layout(phone: Phone, flows: FakeFlows, language: str, words: list[str]) -> None:
    _customer(flows, language)
    menu = await phone.dial()
    for word in words:
        assert word in menu, menu


# Pay merchant (Send -> 3) is built: tests/unit/ussd/test_pay_merchant.py


# 19.3 top-up instructions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "Business no. 600123"), ("sw", "Nambari ya biashara 600123")]
)
async def test_top_up_by_paybill(phone: Phone, flows: FakeFlows, language: str, expected: str) -> None:
    _customer(flows, language)
    await phone.dial()
    assert "4 KES" in await phone.send("6")
    reply = await phone.send("4")
    assert reply.startswith("END ") and expected in reply and "0712345678" in reply, reply


async def test_deposit_addresses_beside_top_up(phone: Phone, flows: FakeFlows) -> None:
    _customer(flows)
    await phone.dial()
    await phone.send("6")
    assert (await phone.send("3")).startswith("END Your USDT-TRC20 address:\nTJRab")


# 19.4 rates ----------------------------------------------------------------------------------


async def test_rates_without_a_trade(phone: Phone, flows: FakeFlows) -> None:
    _customer(flows)
    flows.demo = True
    await phone.dial()
    reply = await phone.send("8")
    assert "Rates in KES for 1 unit (DEMO)" in reply, reply
    assert "BTC: buy 13,390,000 sell 12,610,000" in reply and "USDT-ERC20: buy 133.40 sell 125.60" in reply
    assert "USDT-TRC20: buy n/a sell n/a" in reply
    assert not flows.quotes and not flows.movements


async def test_rates_in_swahili(phone: Phone, flows: FakeFlows) -> None:
    _customer(flows, "sw")
    await phone.dial()
    reply = await phone.send("8")
    assert "BTC: nunua 13,390,000 uza 12,610,000" in reply and "MAJARIBIO" not in reply, reply
    assert "Kibeti" in await phone.send("0")


# 19.7 pending items --------------------------------------------------------------------------

WAITING = [
    PendingLine("deposit", Money.of("0.015", Asset.BTC), datetime(2026, 1, 1, tzinfo=UTC), 1, 3),
    PendingLine("payout", Money.of("1500", Asset.KES), datetime(2026, 1, 1, tzinfo=UTC)),
    PendingLine("withdrawal", Money.of("25", Asset.USDT_TRC20), datetime(2026, 1, 1, tzinfo=UTC)),
]


async def test_pending_items_in_the_statement_and_their_own_screen(phone: Phone, flows: FakeFlows) -> None:
    _customer(flows)
    flows.waiting = list(WAITING)
    await phone.dial()
    statement = await phone.send("7")
    assert "1 Pending (3)" in statement and "In BTC 0.015" in statement and "1/3 conf" in statement, statement
    pending = await phone.send("1")
    assert "Out KES 1,500.00 to M-Pesa" in pending and "Out USDT 25.00 withdrawal" in pending, pending


async def test_pending_in_swahili_and_when_empty(phone: Phone, flows: FakeFlows) -> None:
    _customer(flows, "sw")
    flows.waiting = list(WAITING)
    await phone.dial()
    assert "1 Zinazosubiri (3)" in await phone.send("7")
    assert "Inatoka KES 1,500.00 kwa M-Pesa" in await phone.send("1")
    flows.waiting = []
    await phone.dial()
    assert "1 Zinazosubiri" not in await phone.send("7")


# 19.8 help and care ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Customer care: 0800 720 111"), ("sw", "Huduma kwa wateja: 0800 720 111")],
)
async def test_help_shows_care_and_paybill(
    phone: Phone, flows: FakeFlows, language: str, expected: str
) -> None:
    _customer(flows, language)
    await phone.dial()
    await phone.send("9")
    reply = await phone.send("4")
    assert expected in reply and "600123" in reply, reply


async def test_customer_care_message_gives_the_number(phone: Phone, flows: FakeFlows) -> None:
    async def frozen(**_: object) -> None:
        raise Refused("account_frozen")

    _customer(flows)
    flows.confirm_send = frozen  # type: ignore[method-assign, assignment]
    await phone.dial()
    for value in ("4", "1", "0722000111", "1", "100"):
        await phone.send(value)
    reply = await phone.send("4826")
    assert reply.startswith("END ") and "customer care" in reply and "0800 720 111" in reply, reply


async def _forgot_from_help(phone: Phone) -> str:
    await phone.dial()
    await phone.send("9")
    await phone.send("4")
    assert "0712345678" in await phone.send("1")
    return await phone.send("1")


async def test_forgot_pin_with_sms_code_and_national_id(phone: Phone, flows: FakeFlows) -> None:
    cid = _customer(flows)
    assert "6-digit code" in await _forgot_from_help(phone)
    assert flows.sms == [(NUMBER, "otp")]
    assert "Wrong code" not in await phone.send("314159")
    assert "new 4-digit PIN" in await phone.send("31234567")
    await phone.send("5937")
    done = await phone.send("5937")
    assert done.startswith("END Your new PIN is set") and "24 hours" in done, done
    assert flows.pins[cid] == "5937" and cid in flows.reset_at


async def test_forgot_pin_in_swahili_wrong_code_then_right(phone: Phone, flows: FakeFlows) -> None:
    cid = _customer(flows, "sw")
    assert "tarakimu 6" in await _forgot_from_help(phone)
    await phone.send("000000")
    await phone.send("31234567")
    await phone.send("5937")
    wrong = await phone.send("5937")
    assert "Nambari si sahihi. Majaribio 4 yamebaki." in wrong and "tarakimu 6" in wrong, wrong
    flows.otp_sent[NUMBER] = "271828"
    await phone.send("271828")
    await phone.send("31234567")
    await phone.send("5937")
    assert (await phone.send("5937")).startswith("END PIN yako mpya imewekwa")
    assert flows.pins[cid] == "5937"


async def test_forgot_pin_wrong_national_id_points_to_care(phone: Phone, flows: FakeFlows) -> None:
    cid = _customer(flows)
    await _forgot_from_help(phone)
    await phone.send("314159")
    await phone.send("99999999")
    await phone.send("5937")
    reply = await phone.send("5937")
    assert reply.startswith("END The ID number does not match") and "0800 720 111" in reply, reply
    assert flows.pins[cid] == "4826"


async def test_forgot_pin_from_the_pin_prompt_and_back(phone: Phone, flows: FakeFlows) -> None:
    _customer(flows)
    await phone.dial()
    await phone.send("9")
    await phone.send("1")
    wrong = await phone.send("1111")  # the current PIN, wrong: the way out is offered
    assert "Wrong PIN. 2 tries left." in wrong and "99 Forgot PIN" in wrong, wrong
    assert "We will SMS a 6-digit code" in await phone.send("99")
    assert "Enter your current PIN" in await phone.send("0")


async def test_a_locked_pin_says_how_to_reset_it(phone: Phone, flows: FakeFlows) -> None:
    _customer(flows, "sw")
    await phone.dial()
    await phone.send("9")
    await phone.send("1")
    await phone.send("1111")
    await phone.send("2222")
    locked = await phone.send("3333")
    assert locked.startswith("END PIN imefungwa") and "99" in locked and "9 > 4 > 1" in locked, locked


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_staff_reset_lands_on_the_code_then_a_new_pin(
    phone: Phone, flows: FakeFlows, language: str
) -> None:
    from dataclasses import replace

    cid = _customer(flows, language)
    flows.customers[NUMBER] = replace(flows.customers[NUMBER], pin_reset_pending=True)
    flows.otp_sent[NUMBER] = "314159"
    first = await phone.dial()
    assert ("Your PIN was reset" if language == "en" else "PIN yako imewekwa upya") in first, first
    assert "4" in await phone.send("314159")  # no ID asked: staff checked it
    await phone.send("5937")
    done = await phone.send("5937")
    assert done.startswith("END ") and flows.pins[cid] == "5937", done
    assert "Kibeti" in await phone.dial()


# 19.10 resume only for an operation that was valid when dropped -------------------------


async def test_no_resume_for_an_amount_the_quote_refused(engine: Engine, flows: FakeFlows) -> None:
    _customer(flows)
    flows.send_fee = Decimal(1)  # the fee takes everything: the quote refuses any amount
    phone = Phone(engine, NUMBER)
    await phone.dial()
    for value in ("4", "1", "0722000111", "1"):
        await phone.send(value)
    refused = await phone.send("100")
    assert "too small to cover the fee" in refused, refused
    again = await Phone(engine, NUMBER).dial()  # the network dropped right there
    assert "Continue" not in again and "1 Balances" in again, again


async def test_resume_offered_for_a_valid_operation(engine: Engine, flows: FakeFlows) -> None:
    _customer(flows)
    phone = Phone(engine, NUMBER)
    await phone.dial()
    for value in ("4", "1", "0722000111", "1"):
        await phone.send(value)
    assert "PIN" in await phone.send("100")
    again = await Phone(engine, NUMBER).dial()
    assert "Continue" in again, again


# 11.5 the retried final hop replays its answer ------------------------------------------


async def test_retried_final_hop_gets_the_same_end(phone: Phone, flows: FakeFlows, clock: Clock) -> None:
    _customer(flows)
    await phone.dial()
    for value in ("4", "1", "0722000111", "1", "250"):
        await phone.send(value)
    done = await phone.send("4826")
    assert done.startswith("END ") and len(flows.movements) == 1
    clock.t += 60
    assert await phone.repeat() == done  # not "Your session expired": the customer must not send again
    assert len(flows.movements) == 1
    clock.t += 200  # after the session's TTL
    assert "session expired" in await phone.repeat()


# 11.6 change PIN with a wrong current PIN ------------------------------------------------


@pytest.mark.parametrize(("language", "expected"), [("en", "Wrong PIN. 2 tries left."), ("sw", "2")])
async def test_change_pin_wrong_current_pin_is_told_at_once(
    phone: Phone, flows: FakeFlows, language: str, expected: str
) -> None:
    cid = _customer(flows, language)
    await phone.dial()
    await phone.send("9")
    await phone.send("1")
    reply = await phone.send("1111")
    assert expected in reply and flows.wrong[cid] == 1, reply
    assert "new" not in reply.lower() and "mpya" not in reply.lower(), reply  # still the current PIN
    await phone.send("4826")
    await phone.send("5937")
    assert (await phone.send("5937")).startswith("END ")
    assert flows.pins[cid] == "5937" and flows.wrong[cid] == 0


# 11.13 no PIN or ID kept in the session --------------------------------------------------


async def test_session_keeps_no_pin_code_or_id(
    phone: Phone, flows: FakeFlows, store: MemorySessionStore
) -> None:
    _customer(flows)
    await _forgot_from_help(phone)
    for value in ("314159", "31234567", "5937"):
        await phone.send(value)
        stored = " ".join(value for _, value in store._items.values())
        for secret in ("314159", "31234567", "5937"):
            assert secret not in stored, (secret, stored)
    await phone.send("5937")
    stored = " ".join(value for _, value in store._items.values())
    assert "5937" not in stored and "31234567" not in stored and "314159" not in stored


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_longest_rates_fit(phone: Phone, flows: FakeFlows, language: str) -> None:
    from core.flows.types import RateLine

    async def rates() -> list[RateLine]:
        big, usdt = Money.of("99999999.99", Asset.KES), Money.of("999.99", Asset.KES)
        return [RateLine(Asset.BTC, big, big, True)] + [
            RateLine(a, usdt, usdt, True) for a in (Asset.USDT_ERC20, Asset.USDT_TRC20)
        ]

    _customer(flows, language)
    flows.rates = rates  # type: ignore[method-assign]
    await phone.dial()
    assert "99,999,999" in await phone.send("8")  # the Phone asserts every screen fits 160


async def test_a_pin_prompt_after_a_staff_reset_goes_to_the_code(phone: Phone, flows: FakeFlows) -> None:
    from core.identity.errors import PinResetPending

    async def pending(**_: object) -> None:
        raise PinResetPending("set a new PIN with the code we sent by SMS")

    _customer(flows, "sw")
    flows.check_pin = pending  # type: ignore[method-assign, assignment]
    await phone.dial()
    await phone.send("9")
    await phone.send("1")
    assert "PIN yako imewekwa upya" in await phone.send("4826")


async def test_back_after_declining_resume_never_returns_to_it(engine: Engine, flows: FakeFlows) -> None:
    _customer(flows)
    phone = Phone(engine, NUMBER)
    await phone.dial()
    for value in ("4", "1", "0722000111", "1"):
        await phone.send(value)
    await phone.send("100")
    again = Phone(engine, NUMBER)
    assert "Continue" in await again.dial()
    assert "1 Balances" in await again.send("2")
    back = await again.send("0")  # found by fuzzing: "0" went back to an emptied resume question
    assert "Continue" not in back and "1 Balances" in back, back


# every new screen with each error it can show above it fits 160 characters ----------------------

FLASHES = {
    "send.menu": ["invalid_choice", "not_available"],
    "deposit": ["invalid_choice"],
    "statement": ["invalid_choice"],
    "pending": ["invalid_choice"],
    "help": ["invalid_choice"],
    "pin.forgot": ["invalid_choice", "otp_rate_limited"],
    "pin.reset.code": ["otp_format", "otp_invalid"],
    "pin.reset.id": ["invalid_national_id"],
    "pin.reset.new": ["invalid_pin", "pin_trivial", "pin_mismatch"],
    "pin.reset.confirm": ["invalid_pin"],
    "account.old_pin": ["invalid_pin", "pin_incorrect_left", "pin_incorrect_last"],
}


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize("state", sorted(FLASHES))
async def test_new_screens_fit_with_their_errors(state: str, language: str) -> None:
    from channels.ussd.engine import Ctx
    from channels.ussd.session import UssdSession
    from tests.unit.ussd.test_lengths import LONG_VALUES

    flows = FakeFlows()
    flows.waiting = [WAITING[0]] * 6
    engine = Engine(table=TABLE, store=MemorySessionStore(), flows=flows, secret=b"s", contacts=CONTACTS)
    for staff_reset in (False, True):
        session = UssdSession("s", "+254700000000", state, language=language, customer_id=1)
        session.data = {"staff_reset": True} if staff_reset else {}
        for code in FLASHES[state]:
            ctx = Ctx(session=session, flows=flows, service_code="*483*123#", secret=b"s", contacts=CONTACTS)
            ctx.flash = (code, {k: v for k, v in LONG_VALUES.items() if k != "code"})
            screen = await engine._render(ctx)
            assert len(screen.text) <= 160, (state, code, len(screen.text), screen.text)
