"""The PesaPal client against the simulator, in-process: the token is fetched once, shared through
Redis, refreshed once when refused; every call is recorded with its secrets redacted; PesaPal's
refusals (a reused merchant reference, a refund above what was paid) come back as RailRefused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import redis.asyncio

from core.rails.errors import RailOutcomeUnknown, RailRefused
from payouts.mpesa.client import ApiCall
from payouts.mpesa.token import MemoryTokenCache, RedisTokenCache
from payouts.pesapal.client import PesapalClient, PesapalConfig, fetch_token
from simulators.pesapal import PesapalSimulator

BASE = "http://pesapal.test"
SECRET = "consumer-secret-value-xyz"


@pytest.fixture
async def http() -> AsyncIterator[tuple[httpx.AsyncClient, PesapalSimulator]]:
    sim = PesapalSimulator()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.create_app()), base_url=BASE
    ) as client:
        yield client, sim


def _client(http: httpx.AsyncClient, calls: list[ApiCall], tokens: object = None) -> PesapalClient:
    config = PesapalConfig(base_url=BASE, consumer_key="consumer-key", consumer_secret=SECRET)

    async def audit(call: ApiCall) -> None:
        calls.append(call)

    cache = tokens or MemoryTokenCache(lambda: fetch_token(http, config, audit))
    return PesapalClient(config, http=http, tokens=cache, audit=audit)  # type: ignore[arg-type]


async def _order(client: PesapalClient, reference: str, amount: str = "500.00") -> str:
    ipn_id = await client.ensure_ipn(url="https://kibeti.test/pesapal/ipn")
    submitted = await client.submit_order(
        merchant_reference=reference, amount=Decimal(amount), currency="KES", description="test",
        callback_url="https://kibeti.test/pesapal/return", notification_id=ipn_id, phone="+254733000001",
    )  # fmt: skip
    return submitted.order_tracking_id


async def test_token_once_refreshed_once_and_calls_stored_without_secrets(
    http: tuple[httpx.AsyncClient, PesapalSimulator],
) -> None:
    transport, sim = http
    calls: list[ApiCall] = []
    client = _client(transport, calls)
    tracking = await _order(client, "KBT-A1")
    assert (await client.transaction_status(order_tracking_id=tracking))["status_code"] == 0
    assert [c.api for c in calls].count("pesapal_token") == 1
    sim.expire_tokens()  # PesaPal refuses the cached token (401): dropped, fetched again, once
    assert (await client.transaction_status(order_tracking_id=tracking))["merchant_reference"] == "KBT-A1"
    assert [c.api for c in calls].count("pesapal_token") == 2
    stored = json.dumps([[c.request, c.response] for c in calls])
    assert SECRET not in stored and "consumer-key" not in stored
    assert all(token not in stored for token in sim.tokens)
    status = next(c for c in calls if c.api == "pesapal_status")
    assert status.reference == tracking and status.http_status == 200


async def test_ipn_registered_once_then_found_in_the_list(
    http: tuple[httpx.AsyncClient, PesapalSimulator],
) -> None:
    transport, sim = http
    calls: list[ApiCall] = []
    client = _client(transport, calls)
    first = await client.ensure_ipn(url="https://kibeti.test/pesapal/ipn")
    again = await client.ensure_ipn(url="https://kibeti.test/pesapal/ipn")
    assert first == again and len(sim.ipns) == 1
    assert [c.api for c in calls].count("pesapal_register_ipn") == 1


async def test_a_reused_merchant_reference_is_refused(
    http: tuple[httpx.AsyncClient, PesapalSimulator],
) -> None:
    transport, _ = http
    client = _client(transport, [])
    tracking = await _order(client, "KBT-R1")
    assert (
        await _order(client, "KBT-R1") == tracking
    )  # the same order again (a retried submit): the same answer
    with pytest.raises(RailRefused):
        await _order(client, "KBT-R1", amount="900.00")
    with pytest.raises(RailRefused):
        await _order(client, "not safe/ref")


async def test_refund_at_most_once_and_never_above_paid_cancel_only_unpaid(
    http: tuple[httpx.AsyncClient, PesapalSimulator],
) -> None:
    transport, sim = http
    client = _client(transport, [])
    paid, unpaid = await _order(client, "KBT-P1"), await _order(client, "KBT-P2")
    order = sim.pay(paid, "card")
    assert order is not None
    with pytest.raises(RailRefused, match=r"at most the KES 500\.00 paid"):
        await client.refund(
            confirmation_code=order.confirmation_code, amount=Decimal("500.01"), username="u", remarks="r"
        )
    assert await client.refund(
        confirmation_code=order.confirmation_code, amount=Decimal("200.00"), username="u", remarks="r"
    )
    # PesaPal's RefundRequest: "Multiple refunds are not allowed. You can only request one refund
    # against a payment." The simulator refuses a second one, partial or not, and says why.
    with pytest.raises(
        RailRefused, match=r"already refunded KES 200\.00: PesaPal takes one refund per payment"
    ):
        await client.refund(
            confirmation_code=order.confirmation_code, amount=Decimal("1.00"), username="u", remarks="r"
        )
    assert await client.cancel_order(order_tracking_id=unpaid) is True
    assert await client.cancel_order(order_tracking_id=paid) is False
    airtel = sim.pay(await _order(client, "KBT-P3"), "airtel")
    assert airtel is not None
    with pytest.raises(RailRefused, match=r"refunded in full only: KES 500\.00"):
        await client.refund(
            confirmation_code=airtel.confirmation_code, amount=Decimal("100"), username="u", remarks="r"
        )
    assert await client.refund(
        confirmation_code=airtel.confirmation_code, amount=Decimal("500"), username="u", remarks="r"
    )
    await sim.drain()


async def test_workers_share_one_token_through_redis(
    http: tuple[httpx.AsyncClient, PesapalSimulator], redis_url: str
) -> None:
    transport, sim = http
    config = PesapalConfig(base_url=BASE, consumer_key="consumer-key", consumer_secret=SECRET)
    connection = redis.asyncio.Redis.from_url(redis_url)
    try:
        caches = []
        for _ in range(3):  # three workers
            cache = RedisTokenCache(
                connection, lambda: fetch_token(transport, config), namespace="pesapal|test"
            )
            caches.append(cache)
        clients = [PesapalClient(config, http=transport, tokens=c) for c in caches]
        for client in clients:
            await client.ipn_list()
        assert len(sim.tokens) == 1
    finally:
        await connection.aclose()


@pytest.mark.parametrize("lost_as", ["gateway_timeout", "garbled"])
@pytest.mark.parametrize("fault", ["answer_lost", "request_lost"])
async def test_a_lost_refund_answer_is_an_unknown_outcome_and_the_status_tells_the_truth(
    http: tuple[httpx.AsyncClient, PesapalSimulator], fault: str, lost_as: str
) -> None:
    """No readable answer (a gateway's 504, an unreadable body) is RailOutcomeUnknown, never a
    refusal; GetTransactionStatus says Reversed (and names the refund) only if it was made."""
    transport, sim = http
    client = _client(transport, [])
    tracking = await _order(client, "KBT-L1")
    order = sim.pay(tracking, "card")
    assert order is not None
    sim.behaviour.refund, sim.behaviour.refund_lost_as = fault, lost_as
    with pytest.raises(RailOutcomeUnknown):
        await client.refund(
            confirmation_code=order.confirmation_code, amount=Decimal("200.00"), username="u", remarks="r"
        )
    status = await client.transaction_status(order_tracking_id=tracking)
    if fault == "answer_lost":
        assert (status["status_code"], status["payment_status_description"]) == (3, "Reversed")
        assert status["description"] == "Refunded KES 200.00"
    else:
        assert (status["status_code"], status["payment_status_description"]) == (1, "Completed")
        assert status["description"] == ""
    await sim.drain()


async def test_a_5xx_with_an_error_body_from_refund_is_unknown_not_refused() -> None:
    """A 5xx may come after PesaPal made the refund: unknown, whatever its body says."""

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("RequestToken"):
            return httpx.Response(
                200, json={"token": "t", "expiryDate": "2099-01-01T00:00:00Z", "status": "200"}
            )
        return httpx.Response(
            502, json={"error": {"code": "bad_gateway", "message": "upstream"}, "status": "500"}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(broken), base_url=BASE) as mocked:
        with pytest.raises(RailOutcomeUnknown):
            await _client(mocked, []).refund(
                confirmation_code="X", amount=Decimal("1.00"), username="u", remarks="r"
            )


@pytest.mark.parametrize("merchant", ["approves", "declines"])
async def test_a_refund_awaiting_the_merchants_approval_leaves_the_status_completed(
    http: tuple[httpx.AsyncClient, PesapalSimulator], merchant: str
) -> None:
    """PesaPal's Refund Request: "A refund has to be approved by the merchant". Accepted, the status
    still says Completed and names no refund; a second request meanwhile is refused; approved, it is
    Reversed; declined, no refund was made and a new request may be taken."""
    transport, sim = http
    client = _client(transport, [])
    tracking = await _order(client, "KBT-A1")
    order = sim.pay(tracking, "card")
    assert order is not None
    sim.behaviour.refund_approval = "merchant"
    code = order.confirmation_code
    assert await client.refund(confirmation_code=code, amount=Decimal("200.00"), username="u", remarks="r")
    status = await client.transaction_status(order_tracking_id=tracking)
    assert (status["status_code"], status["payment_status_description"], status["description"]) == (
        1,
        "Completed",
        "",
    )
    with pytest.raises(RailRefused, match="awaits the merchant's approval"):
        await client.refund(confirmation_code=code, amount=Decimal("200.00"), username="u", remarks="r")
    if merchant == "approves":
        sim.approve_refund(tracking)
        status = await client.transaction_status(order_tracking_id=tracking)
        assert (status["status_code"], status["description"]) == (3, "Refunded KES 200.00")
    else:
        sim.decline_refund(tracking)
        status = await client.transaction_status(order_tracking_id=tracking)
        assert (status["status_code"], status["description"]) == (1, "")
        assert await client.refund(
            confirmation_code=code, amount=Decimal("200.00"), username="u", remarks="r"
        )
    assert order.refund_requests == 3 if merchant == "declines" else 2
    await sim.drain()
