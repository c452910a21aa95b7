"""The Daraja simulator's B2B (merchant settlement): BusinessBuyGoods to a till, BusinessPayBill with
its AccountReference to a paybill; Daraja's B2B result shape; wrong tills, closed paybills, missing
fields, duplicate OriginatorConversationIDs and duplicated or missing callbacks."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from payouts.mpesa import errors, wire
from payouts.mpesa.client import DarajaClient, DarajaConfig, fetch_token
from payouts.mpesa.token import MemoryTokenCache
from simulators.daraja.simulator import Simulator, create_app
from simulators.daraja.state import Behaviour, SimConfig
from tests.unit.payouts.test_daraja_client import CERT, receiver


@pytest.fixture
async def rig():
    app, seen = receiver()
    sim = Simulator(
        SimConfig(initiator_password="Safaricom999!*!", callback_delay_s=0.0),
        certificate=CERT,
        callback_transport=httpx.ASGITransport(app=app),
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
    config = DarajaConfig(
        base_url="http://sim", consumer_key="k", consumer_secret="s", shortcode="600000", passkey="",
        initiator_name="testapi", initiator_password="Safaricom999!*!", certificate_pem=CERT[0],
        callback_base_url="http://app", callback_token="tok",
    )  # fmt: skip
    tokens = MemoryTokenCache(lambda: fetch_token(http, config))
    client = DarajaClient(config, http=http, tokens=tokens)
    yield sim, client, seen, http, tokens
    await http.aclose()


async def _pay(
    client, ocid: str, party_b: str, kind: str = "till", reference: str = "M42", amount: int = 2758
):
    return await client.b2b_payment(
        originator_conversation_id=ocid, receiver_shortcode=party_b, receiver_kind=kind, amount=amount,
        account_reference=reference, remarks="Kibeti settlement M1",
    )  # fmt: skip


async def test_buy_goods_to_a_till_is_paid_with_a_b2b_result(rig) -> None:
    sim, client, seen, _, _ = rig
    accepted = await _pay(client, "settle-1", "5551234")
    assert accepted.response_code == "0" and accepted.originator_conversation_id == "settle-1"
    await sim.drain()
    path, body = seen[-1]
    assert path == "b2b/result"
    result = wire.parse_result(body)
    assert result.succeeded and result.amount == Decimal(2758)
    assert result.transaction_id and result.parameters["Currency"] == "KES"
    assert "ReceiverPartyPublicName" in result.parameters and "TransactionReceipt" not in result.parameters
    items = body["Result"]["ReferenceData"]["ReferenceItem"]
    assert {"Key": "BillReferenceNumber", "Value": "M42"} in items
    txn = sim.state.b2c["settle-1"]
    assert txn.command_id == "BusinessBuyGoods" and sim.state.payments["settle-1"] == 1


async def test_pay_bill_carries_the_account_reference(rig) -> None:
    sim, client, seen, _, _ = rig
    await _pay(client, "settle-2", "888880", kind="paybill", reference="ACC-0042")
    await sim.drain()
    assert sim.state.b2c["settle-2"].command_id == "BusinessPayBill"
    assert {"Key": "BillReferenceNumber", "Value": "ACC-0042"} in seen[-1][1]["Result"]["ReferenceData"][
        "ReferenceItem"
    ]


async def test_pay_bill_without_an_account_reference_is_refused_synchronously(rig) -> None:
    _, client, _, http, tokens = rig
    token = await tokens.get()
    body = {
        "Initiator": "testapi", "SecurityCredential": client.credential, "CommandID": "BusinessPayBill",
        "SenderIdentifierType": "4", "RecieverIdentifierType": "4", "Amount": 100, "PartyA": "600000",
        "PartyB": "888880", "Remarks": "x", "QueueTimeOutURL": "http://app/t", "ResultURL": "http://app/r",
    }  # fmt: skip
    response = await http.post(
        "http://sim/mpesa/b2b/v1/paymentrequest", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert response.json()["errorMessage"] == "Bad Request - Invalid AccountReference"
    response = await http.post(
        "http://sim/mpesa/b2b/v1/paymentrequest",
        json={**body, "CommandID": "BusinessPayment", "AccountReference": "A"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["errorMessage"] == "Bad Request - Invalid CommandID"


async def test_a_wrong_till_and_a_closed_paybill_fail_without_moving_money(rig) -> None:
    sim, client, seen, _, _ = rig
    sim.state.b2c_steering.by_msisdn["777777"] = Behaviour(outcome="2006")
    await _pay(client, "wrong", "12")
    await _pay(client, "closed", "777777", kind="paybill", reference="A1")
    await sim.drain()
    codes = {
        wire.parse_result(b).originator_conversation_id: wire.parse_result(b).result_code for _, b in seen
    }
    assert codes == {"wrong": "SFC_IC0003", "closed": "2006"}
    assert sim.state.payments["wrong"] == 0 and sim.state.payments["closed"] == 0
    assert all("ResultParameters" not in b["Result"] for _, b in seen)


async def test_a_reused_originator_conversation_id_is_refused(rig) -> None:
    sim, client, _, _, _ = rig
    await _pay(client, "once", "5551234")
    with pytest.raises(errors.DuplicateOriginatorConversationID):
        await _pay(client, "once", "5551234")
    assert sim.state.payments["once"] == 1


async def test_duplicated_and_missing_callbacks_are_steerable(rig) -> None:
    sim, client, seen, _, _ = rig
    sim.state.b2c_steering.queue.extend([Behaviour(callback="duplicate"), Behaviour(callback="none")])
    await _pay(client, "twice", "5551234")
    await _pay(client, "silent", "5551234")
    await sim.drain()
    ids = [wire.parse_result(b).originator_conversation_id for _, b in seen]
    assert ids.count("twice") == 2 and "silent" not in ids
    assert sim.state.payments["twice"] == 1 and sim.state.payments["silent"] == 1
