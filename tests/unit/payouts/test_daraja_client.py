"""The Daraja client against the simulator, in-process (ASGI transports, no sockets)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI, Request

from payouts.mpesa import errors, wire
from payouts.mpesa.client import ApiCall, DarajaClient, DarajaConfig, fetch_token
from payouts.mpesa.credentials import decrypt_credential, generate_test_certificate, security_credential
from payouts.mpesa.token import MemoryTokenCache
from simulators.daraja.simulator import Simulator, create_app
from simulators.daraja.state import Behaviour, SimConfig

CERT = generate_test_certificate()


def receiver() -> tuple[FastAPI, list[tuple[str, dict]]]:
    app = FastAPI()
    seen: list[tuple[str, dict]] = []

    @app.post("/cb/{token}/{rest:path}")
    async def callback(token: str, rest: str, request: Request) -> dict:
        seen.append((rest, await request.json()))
        return {"ResultCode": 0, "ResultDesc": "Accepted"}

    return app, seen


@pytest.fixture
async def rig():
    app, seen = receiver()
    sim = Simulator(
        SimConfig(passkey="pk", initiator_password="Safaricom999!*!", callback_delay_s=0.0),
        certificate=CERT,
        callback_transport=httpx.ASGITransport(app=app),
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
    config = DarajaConfig(
        base_url="http://sim",
        consumer_key="k",
        consumer_secret="s",
        shortcode="600000",
        passkey="pk",
        initiator_name="testapi",
        initiator_password="Safaricom999!*!",
        certificate_pem=CERT[0],
        callback_base_url="http://app",
        callback_token="tok",
    )
    calls: list[ApiCall] = []

    async def audit(call: ApiCall) -> None:
        calls.append(call)

    tokens = MemoryTokenCache(lambda: fetch_token(http, config, audit))
    client = DarajaClient(config, http=http, tokens=tokens, audit=audit)
    yield sim, client, seen, calls, tokens
    await http.aclose()


def test_security_credential_round_trip_and_randomised():
    a = security_credential("Safaricom999!*!", CERT[0])
    b = security_credential("Safaricom999!*!", CERT[0])
    assert a != b  # PKCS#1 v1.5 padding is random
    assert decrypt_credential(a, CERT[1]) == decrypt_credential(b, CERT[1]) == "Safaricom999!*!"


@pytest.mark.parametrize(
    ("given", "msisdn"),
    [("+254712345678", "254712345678"), ("0712345678", "254712345678"), ("0110 123 456", "254110123456")],
)
def test_to_msisdn(given, msisdn):
    assert wire.to_msisdn(given) == msisdn


@pytest.mark.parametrize("bad", ["+255712345678", "12345", "07123456789", "2549123456789", ""])
def test_to_msisdn_rejects(bad):
    with pytest.raises(errors.InvalidMsisdn):
        wire.to_msisdn(bad)


async def test_b2c_success_callback_and_audit_redacted(rig):
    sim, client, seen, calls, _ = rig
    accepted = await client.b2c_payment(
        originator_conversation_id="p-1", phone="+254712345678", amount=100, remarks="x"
    )
    assert accepted.response_code == "0" and accepted.conversation_id.startswith("AG_")
    await sim.drain()
    (path, body), *_ = seen
    assert path == "b2c/result"
    result = wire.parse_result(body)
    assert result.succeeded and result.originator_conversation_id == "p-1" and result.amount == Decimal(100)
    assert sim.state.payments["p-1"] == 1
    b2c_call = next(c for c in calls if c.api == "b2c")
    assert b2c_call.request["SecurityCredential"] == wire.REDACTED and b2c_call.http_status == 200
    oauth = next(c for c in calls if c.api == "oauth")
    assert oauth.response["access_token"] == wire.REDACTED and oauth.http_status == 200


async def test_b2c_duplicate_ocid_is_refused(rig):
    sim, client, _, _, _ = rig
    await client.b2c_payment(originator_conversation_id="p-2", phone="254712345678", amount=50, remarks="x")
    with pytest.raises(errors.DuplicateOriginatorConversationID):
        await client.b2c_payment(
            originator_conversation_id="p-2", phone="254712345678", amount=50, remarks="x"
        )
    assert sim.state.payments["p-2"] == 1 and sim.state.requests["p-2"] == 2


@pytest.mark.parametrize("outcome", ["2040", "1", "8006"])
async def test_b2c_failure_outcomes(rig, outcome):
    sim, client, seen, _, _ = rig
    sim.state.b2c_steering.queue.append(Behaviour(outcome))
    await client.b2c_payment(originator_conversation_id="p-3", phone="254712345678", amount=50, remarks="x")
    await sim.drain()
    result = wire.parse_result(seen[0][1])
    assert result.result_code == outcome and not result.succeeded
    assert sim.state.payments["p-3"] == 0


async def test_b2c_limits(rig):
    sim, client, seen, _, _ = rig
    await client.b2c_payment(originator_conversation_id="small", phone="254712345678", amount=9, remarks="x")
    await client.b2c_payment(
        originator_conversation_id="big", phone="254712345678", amount=250_001, remarks="x"
    )
    await sim.drain()
    codes = {
        wire.parse_result(b).originator_conversation_id: wire.parse_result(b).result_code for _, b in seen
    }
    assert codes == {"small": "2", "big": "3"}


async def test_wrong_initiator_password_gives_2001(rig):
    sim, client, seen, _, _ = rig
    sim.state.config.initiator_password = "other"
    await client.b2c_payment(originator_conversation_id="p-4", phone="254712345678", amount=50, remarks="x")
    await sim.drain()
    assert wire.parse_result(seen[0][1]).result_code == "2001"


async def test_spike_arrest_raises_busy(rig):
    sim, client, _, _, _ = rig
    sim.state.spike_next = 1
    with pytest.raises(errors.DarajaBusy):
        await client.b2c_payment(
            originator_conversation_id="p-5", phone="254712345678", amount=50, remarks="x"
        )
    assert "p-5" not in sim.state.b2c


async def test_rotated_token_is_refreshed_once(rig):
    sim, client, _, _, tokens = rig
    await client.account_balance()
    sim.state.issue_token()  # someone else generated a token: ours is now invalid
    await client.account_balance()
    assert tokens.fetches == 2


async def test_timeout_only_and_status_tells_truth(rig):
    sim, client, seen, _, _ = rig
    sim.state.b2c_steering.default.callback = "timeout_only"
    await client.b2c_payment(originator_conversation_id="p-6", phone="254712345678", amount=70, remarks="x")
    await sim.drain()
    assert seen[-1][0] == "b2c/timeout"
    await client.transaction_status(originator_conversation_id="p-6")
    await sim.drain()
    path, body = seen[-1]
    status = wire.parse_result(body)
    assert path == "status/result" and status.parameters["TransactionStatus"] == "Completed"
    assert status.parameters["OriginatorConversationID"] == "p-6"


async def test_account_balance_result(rig):
    sim, client, seen, _, _ = rig
    await client.account_balance()
    await sim.drain()
    value = wire.parse_result(seen[-1][1]).parameters["AccountBalance"]
    utility = next(line for line in wire.parse_account_balance(value) if line.name == "Utility Account")
    assert utility.available == Decimal("1000000.00")


@pytest.mark.parametrize("outcome", ["success", "1032", "1037", "2001", "1"])
async def test_stk_push_outcomes_and_query(rig, outcome):
    sim, client, seen, _, _ = rig
    sim.state.stk_steering.default.outcome = outcome
    sim.state.config.callback_delay_s = 0.01
    accepted = await client.stk_push(phone="0712345678", amount=100, account_reference="BUY1")
    await sim.drain()
    callback = wire.parse_stk_callback(seen[-1][1])
    assert callback.checkout_request_id == accepted.checkout_request_id
    expected = "0" if outcome == "success" else outcome
    assert callback.result_code == expected
    if expected == "0":
        assert callback.amount == Decimal(100) and callback.phone == "254712345678" and callback.receipt
    status = await client.stk_query(checkout_request_id=accepted.checkout_request_id)
    assert status.result_code == expected


async def test_stk_query_pending(rig):
    sim, client, _, _, _ = rig
    sim.state.stk_steering.default.delay_s = 5
    accepted = await client.stk_push(phone="0712345678", amount=100, account_reference="BUY1")
    with pytest.raises(errors.StkPending):
        await client.stk_query(checkout_request_id=accepted.checkout_request_id)
    for task in list(sim._tasks):
        task.cancel()


async def test_stk_wrong_password_is_refused(rig):
    sim, client, _, _, _ = rig
    sim.state.config.passkey = "another"
    with pytest.raises(errors.DarajaError) as info:
        await client.stk_push(phone="0712345678", amount=100, account_reference="BUY1")
    assert info.value.error_code == "500.001.1001"


async def test_c2b_register_and_simulate(rig):
    sim, client, _, _, _ = rig
    out = await client.c2b_register()
    assert out["ResponseCode"] == "0"
    assert sim.state.c2b_urls["confirmation"].endswith("/cb/tok/c2b/confirmation")


def test_parse_result_defensive():
    body = {
        "Result": {
            "ResultCode": "0",
            "ResultParameters": {"ResultParameter": {"Key": "Amount", "Value": "10"}},
        }
    }
    assert wire.parse_result(body).amount == Decimal(10)
    with pytest.raises(wire.MalformedCallback):
        wire.parse_result({"Result": []})
    with pytest.raises(wire.MalformedCallback):
        wire.parse_stk_callback({"Body": {"stkCallback": {"ResultCode": 0}}})


async def test_b2b_settlement_to_a_till(rig):
    sim, client, seen, _, _ = rig
    accepted = await client.b2b_payment(
        originator_conversation_id="settle-1",
        receiver_shortcode="123456",
        receiver_kind="till",
        amount=5000,
        account_reference="M42",
        remarks="settlement",
    )
    assert accepted.response_code == "0"
    await sim.drain()
    path, body = seen[-1]
    assert path == "b2b/result" and wire.parse_result(body).succeeded
    assert sim.state.payments["settle-1"] == 1
