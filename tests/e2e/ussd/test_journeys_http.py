"""USSD journeys over HTTP against the real app, PostgreSQL and Redis."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import TOKEN, AtPhone, deliver_sms, register

_register = register  # the name tests/e2e/pesapal/test_pesapal_journeys.py still imports from here


async def test_wrong_secret_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/ussd/not-the-token", data={"sessionId": "x", "phoneNumber": "+254712345678"}
    )
    assert response.status_code == 403


async def test_register_in_english_then_balances_and_navigation(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    phone = AtPhone(client, "+254712345678")
    assert (await register(phone, "1")).startswith("END Welcome to Kibeti, Amina!")
    assert "1 Balances" in await phone.dial()
    balances = await phone.send("1")
    assert "KES 0.00" in balances and "USDT-TRC20" in balances
    assert "1 Balances" in await phone.send("0")
    await phone.send("9")
    assert "1 Balances" in await phone.send("00")
    await deliver_sms(ussd_runtime)
    [sms] = at_fake.messages_for("+254712345678")
    assert sms.message.startswith("Welcome to Kibeti, Amina.") and sms.parts == 1


async def test_register_in_swahili_and_change_language(client: httpx.AsyncClient) -> None:
    phone = AtPhone(client, "+254722000111")
    assert (await register(phone, "2", "Otieno Odhiambo")).startswith("END Karibu Kibeti, Otieno!")
    assert "1 Salio" in await phone.dial()
    await phone.send("9")
    await phone.send("2")
    assert (await phone.send("1")).startswith("END Language set to English")
    assert "1 Balances" in await phone.dial()


async def test_a_national_id_registers_one_number(client: httpx.AsyncClient) -> None:
    first = AtPhone(client, "+254712345678")
    assert (await register(first, "1", national_id="29876543")).startswith("END Welcome to Kibeti")
    second = await register(AtPhone(client, "+254722000111"), "1", "Amina W", national_id="29876543")
    assert second.startswith("END This ID number is already registered") and "customer care" in second
    third = await register(AtPhone(client, "+254733000222"), "2", national_id="29876543")
    assert third.startswith("END Kitambulisho hiki kimeshasajiliwa") and "huduma kwa wateja" in third
    assert "1 Balances" not in await AtPhone(client, "+254722000111").dial()  # still not registered
    assert "1 Balances" in await AtPhone(client, first.number).dial()


async def test_repeated_registration_hop_registers_once(client: httpx.AsyncClient) -> None:
    phone = AtPhone(client, "+254733000222")
    await register(phone, "1")
    again = await phone.hop()  # AT re-sent the last hop
    assert again.startswith(("END", "CON"))
    assert "1 Balances" in await phone.dial()


async def test_change_pin_wrong_old_pin_then_lockout(client: httpx.AsyncClient) -> None:
    phone = AtPhone(client, "+254711222333")
    await register(phone, "1")
    await phone.menu("9", "1")
    # a wrong current PIN is told at once, with the tries left (issue 11.6), never asking a new PIN first
    assert "Wrong PIN. 2 tries left." in await phone.send("1357")
    assert "Wrong PIN" in await phone.send("9753")
    reply = await phone.send("1111")
    assert reply.startswith("END") and "locked" in reply.lower(), reply


async def test_session_end_event_is_accepted(client: httpx.AsyncClient) -> None:
    form = {
        "sessionId": "ATUid_x",
        "status": "Incomplete",
        "phoneNumber": "+254712345678",
        "hopsCount": "3",
        "input": "1*2",
        "durationInMillis": "4000",
        "date": "2026-01-01 10:00:00",
    }
    response = await client.post(f"/ussd/{TOKEN}/events", data=form)
    assert response.status_code == 200


async def test_ip_allow_list(client: httpx.AsyncClient, ussd_runtime: Runtime) -> None:
    ussd_runtime.settings.callback_ip_allowlist = ["196.201.214.0/24"]
    form = {"sessionId": "ip", "phoneNumber": "+254712345678", "text": ""}
    assert (await client.post(f"/ussd/{TOKEN}", data=form)).status_code == 403
    ussd_runtime.settings.callback_ip_allowlist = []
    assert (await client.post(f"/ussd/{TOKEN}", data=form)).status_code == 200
