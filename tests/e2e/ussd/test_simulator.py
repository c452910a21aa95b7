"""The phone simulator page drives the real callback and shows the AT fake's SMS."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import deliver_sms


async def test_simulator_registers_a_number_and_shows_its_sms(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    page = await client.get("/simulator/phone")
    assert page.status_code == 200 and "Dial *483*1#" in page.text
    assert (await client.get("/phone")).text == page.text
    reply = (await client.post("/simulator/phone/hop", json={"phone": "0712 345 678", "text": ""})).json()
    assert reply["kind"] == "CON" and "Chagua lugha" in reply["screen"]
    session, inputs = reply["session_id"], []
    for value in ["2", "Amina Wanjiru", "12345678", "15031990", "1", "4826", "4826"]:
        inputs.append(value)
        body = {"phone": "0712345678", "session_id": session, "text": "*".join(inputs)}
        reply = (await client.post("/simulator/phone/hop", json=body)).json()
    assert reply["kind"] == "END" and reply["screen"].startswith("Karibu Kibeti, Amina!")
    await deliver_sms(ussd_runtime)
    inbox = (await client.get("/simulator/phone/sms", params={"phone": "0712345678"})).json()
    assert inbox["phone"] == "+254712345678"
    assert inbox["messages"][0]["message"].startswith("Karibu Kibeti, Amina.")
    assert (await client.post("/simulator/phone/hop", json={"phone": "12"})).status_code == 422
