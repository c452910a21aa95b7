"""Issue 19 (menu, paybill top-up, rates, pending, help, forgotten PIN) and issue 11 (a retried END
hop, change PIN with a wrong current PIN, no secret at rest) over the Africa's Talking callback, on
PostgreSQL + Redis, in English and Swahili."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text, update

from core.db.base import Base
from core.flows import accounts
from core.identity import service as identity
from core.identity.models import CustomerOtp
from core.ledger import service as ledger
from core.money import Asset, Money
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import (
    TOKEN,
    AtPhone,
    customer_id_of,
    deliver_sms,
    funded,
    refresh_rates,
    register,
    registered,
)
from webapp.schema import import_all_models

NUMBER = "+254712345678"
NATIONAL_ID = "31234567"
FIRST_PIN, NEW_PIN = "4826", "5937"
CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def _code_from_sms(rt: Runtime, at_fake: FakeAfricasTalking) -> str:
    await deliver_sms(rt)
    codes = [CODE_RE.search(m.message) for m in at_fake.messages_for(NUMBER)]
    found = [c.group(1) for c in codes if c is not None]
    assert found, [m.message for m in at_fake.messages_for(NUMBER)]
    return found[-1]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "1",
            [
                "5 Cash out to M-Pesa",
                "Business no. 600000",
                "Rates in KES for 1 unit (DEMO)",
                "Customer care:",
            ],
        ),
        ("2", ["5 Toa pesa kwa M-Pesa", "Nambari ya biashara 600000", "(MAJARIBIO)", "Huduma kwa wateja:"]),
    ],
)
async def test_menu_top_up_rates_and_help(
    client: httpx.AsyncClient, ussd_runtime: Runtime, language: str, words: list[str]
) -> None:
    await refresh_rates(ussd_runtime)
    phone = await registered(client, NUMBER, language, national_id=NATIONAL_ID)
    menu = await phone.dial()
    assert words[0] in menu and "9 " in menu, menu
    await phone.send("6")
    topup = await phone.send("4")
    assert topup.startswith("END ") and words[1] in topup and "0712345678" in topup, topup
    await phone.dial()
    rates = await phone.send("8")
    assert words[2] in rates and "BTC: " in rates and "USDT-TRC20: " in rates, rates
    assert "n/a" not in rates and "hakuna" not in rates, rates
    await phone.dial()
    await phone.send("9")
    care = await phone.send("4")
    assert words[3] in care and "600000" in care, care


async def test_pending_payout_in_the_statement(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    rt = ussd_runtime
    phone = await funded(client, rt, NUMBER, "2", "2000", "KES", national_id=NATIONAL_ID)
    customer_id = await customer_id_of(rt, NUMBER)
    async with rt.session_factory() as session:  # money held for an M-Pesa payout in flight
        wallet = await accounts.wallet_account_id(session, customer_id, Asset.KES)
        await ledger.place_hold(
            session=session, idempotency_key="e2e-payout-hold", account_id=wallet,
            amount=Money.of("1500", Asset.KES), memo="M-Pesa payout", details={"payout_id": "e2e-1"},
        )  # fmt: skip
        await session.commit()
    await phone.dial()
    statement = await phone.send("7")
    assert "1 Zinazosubiri (1)" in statement and "Inatoka KES 1,500.00 kwa M-Pesa" in statement, statement
    assert "Inatoka KES 1,500.00 kwa M-Pesa" in await phone.send("1")


async def test_retried_end_hop_replays_its_answer(client: httpx.AsyncClient) -> None:
    phone = AtPhone(client, NUMBER)
    done = await register(phone, "1", national_id=NATIONAL_ID)
    assert done.startswith("END Welcome to Kibeti")
    assert await phone.hop() == done  # Africa's Talking retried the final hop: the same answer
    event = {"sessionId": phone.session_id, "status": "Success", "hopsCount": "7"}
    assert (await client.post(f"/ussd/{TOKEN}/events", data=event)).status_code == 200
    assert await phone.hop() == done  # the end notification does not drop the answer either


@pytest.mark.parametrize(("language", "expected"), [("1", "Wrong PIN. 2 tries left."), ("2", "2")])
async def test_change_pin_wrong_current_pin_told_at_once(
    client: httpx.AsyncClient, language: str, expected: str
) -> None:
    phone = await registered(client, NUMBER, language, national_id=NATIONAL_ID)
    await phone.menu("9", "1")
    reply = await phone.send("1111")
    assert expected in reply and "99" in reply and reply.startswith("CON"), reply
    await phone.send(FIRST_PIN)
    await phone.send(NEW_PIN)
    assert (await phone.send(NEW_PIN)).startswith("END")


def _hits(value: object, secret: str) -> bool:
    return re.search(rf"(?<!\d){re.escape(secret)}(?!\d)", str(value)) is not None


async def _database_hits(rt: Runtime, secrets: list[str]) -> list[tuple[str, str, str]]:
    import_all_models()
    hits = []
    async with rt.session_factory() as session:
        for table in Base.metadata.sorted_tables:
            exists = await session.execute(text("select to_regclass(:name)"), {"name": table.name})
            if exists.scalar_one() is None:
                continue
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    for secret in secrets:
                        if value is not None and _hits(value, secret):
                            hits.append((table.name, column, secret))
    return hits


async def _redis_hits(rt: Runtime, secrets: list[str]) -> list[tuple[str, str]]:
    assert rt.redis is not None
    hits = []
    async for key in rt.redis.scan_iter():
        kind = await rt.redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind == "string":
            values = [await rt.redis.get(key)]
        elif kind == "hash":
            values = list((await rt.redis.hgetall(key)).values())
        elif kind == "list":
            values = await rt.redis.lrange(key, 0, -1)
        elif kind in ("set", "zset"):
            values = (
                list(await rt.redis.smembers(key)) if kind == "set" else await rt.redis.zrange(key, 0, -1)
            )
        else:
            values = []
        for value in values:
            for secret in secrets:
                if _hits(value, secret):
                    hits.append((str(key), secret))
    return hits


# Where the national ID is meant to be: the customer's KYC record (and its screening profile).
ID_HOMES = {
    ("customers", "national_id"),
    ("kyc_profiles", "id_number"),
    ("compliance_kyc_profiles", "id_number"),
}


@pytest.mark.parametrize("language", ["1", "2"])
async def test_forgot_pin_by_sms_code_and_nothing_secret_at_rest(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking, language: str
) -> None:
    rt = ussd_runtime
    phone = await registered(client, NUMBER, language, national_id=NATIONAL_ID)
    # locked out by wrong PINs, the customer reaches the reset from the PIN prompt itself
    await phone.menu("9", "1")
    assert "99" in await phone.send("1111")
    forgot = await phone.send("99")
    assert "0712345678" in forgot, forgot
    asked = await phone.send("1")
    assert ("6-digit code" if language == "1" else "tarakimu 6") in asked, asked
    code = await _code_from_sms(rt, at_fake)
    async with rt.session_factory() as session:  # the code was queued sealed, put in only when sent
        rows = (await session.execute(text("select kwargs::text from outbox"))).scalars().all()
        assert rows and not any(code in row for row in rows), rows
    await phone.send(code)
    await phone.send(NATIONAL_ID)
    await phone.send(NEW_PIN)
    done = await phone.send(NEW_PIN)
    assert done.startswith("END ") and "24" in done, done
    assert await phone.hop() == done  # a retried final hop: the same answer
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=NUMBER)
        assert customer is not None
        allowed_at = identity.withdrawals_allowed_at(customer)
        assert allowed_at is not None and allowed_at > datetime.now(UTC)  # money out waits 24 h
    # the new PIN works (Change PIN asks the current one first)
    await phone.menu("9", "1")
    assert "Wrong" not in await phone.send(NEW_PIN)

    secrets = [FIRST_PIN, NEW_PIN, code, NATIONAL_ID, "1111"]
    all_hits = await _database_hits(rt, secrets)
    assert ("customers", "national_id", NATIONAL_ID) in all_hits  # the scan sees what is there
    assert [hit for hit in all_hits if (hit[0], hit[1]) not in ID_HOMES] == []
    assert await _redis_hits(rt, secrets) == []


@pytest.mark.parametrize(
    ("language", "asked"), [("1", "Your PIN was reset"), ("2", "PIN yako imewekwa upya")]
)
async def test_staff_reset_lands_on_the_code_then_a_new_pin(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking, language: str, asked: str
) -> None:
    rt = ussd_runtime
    phone = await registered(client, NUMBER, language, national_id=NATIONAL_ID)
    assert rt.notifier is not None
    async with rt.session_factory() as session:  # staff re-checked the ID: the customer gets a code
        customer = await identity.get_customer_by_phone(session=session, phone=NUMBER)
        assert customer is not None
        await identity.start_staff_pin_reset(
            session=session, customer_id=customer.id, notifier=rt.notifier, clock=rt.clock, actor="staff:1"
        )
        await session.commit()
    code = await _code_from_sms(rt, at_fake)
    first = await phone.dial()
    assert first.startswith("CON ") and asked in first, first
    assert "4" in await phone.send(code)  # no ID asked: staff checked it
    await phone.send(NEW_PIN)
    done = await phone.send(NEW_PIN)
    assert done.startswith("END ") and "24" in done, done
    assert "1 " in await phone.dial() and asked not in await phone.hop()
    await phone.send("9")
    await phone.send("1")
    assert "Wrong" not in await phone.send(NEW_PIN)  # the new PIN is the current one


@pytest.mark.parametrize(
    ("language", "resent"), [("1", "We sent you a new one"), ("2", "Tumekutumia nyingine")]
)
async def test_a_staff_reset_code_that_expired_is_sent_again(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking, language: str, resent: str
) -> None:
    """After a staff reset every dial asks for the code, so an expired one cannot be a dead end."""
    rt = ussd_runtime
    phone = await registered(client, NUMBER, language, national_id=NATIONAL_ID)
    assert rt.notifier is not None
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=NUMBER)
        assert customer is not None
        await identity.start_staff_pin_reset(
            session=session, customer_id=customer.id, notifier=rt.notifier, clock=rt.clock, actor="staff:1"
        )
        await session.commit()
    old_code = await _code_from_sms(rt, at_fake)
    async with rt.session_factory() as session:  # the customer comes back after the code's lifetime
        await session.execute(update(CustomerOtp).values(expires_at=rt.clock.now() - timedelta(minutes=1)))
        await session.commit()
    await phone.dial()
    await phone.send(old_code)
    await phone.send(NEW_PIN)
    ended = await phone.send(NEW_PIN)
    assert ended.startswith("END ") and resent in ended, ended
    new_code = await _code_from_sms(rt, at_fake)
    assert new_code != old_code
    await phone.dial()
    await phone.send(new_code)
    await phone.send(NEW_PIN)
    done = await phone.send(NEW_PIN)
    assert done.startswith("END ") and "24" in done, done
