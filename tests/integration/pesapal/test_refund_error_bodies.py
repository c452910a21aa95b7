"""PesaPal puts its errors in the body, usually with HTTP 200: {"error": {"error_type", "code",
"message"}, "status": "500"}. A RefundRequest answered so is a refusal (nothing done, the hold may be
released) only when the code says PesaPal did not act on it (wire.REFUND_REFUSALS); an internal
error, a code we do not know, no code, an error that is only text, a 5xx or a body that is not an
object is an unknown outcome, never a refusal: the money stays held and GetTransactionStatus decides.
The simulator is served over a real socket (uvicorn on 127.0.0.1, a port in 8110-8119) in its
error-body mode; its status afterwards shows whether PesaPal had taken the refund."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.rails.errors import RailOutcomeUnknown, RailRefused
from payouts.mpesa.token import MemoryTokenCache
from payouts.pesapal import wire
from payouts.pesapal.client import PesapalClient, PesapalConfig, fetch_token
from simulators.pesapal import ERROR_BODIES, PesapalSimulator

PORTS = range(8110, 8120)
_references = itertools.count(1)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass(frozen=True)
class Served:
    """The simulator and its URL; shown by its URL (hypothesis shows the arguments of a failing
    example, and the simulator's repr grows with every order)."""

    base: str
    sim: PesapalSimulator

    def __repr__(self) -> str:
        return f"Served({self.base})"

    def __iter__(self) -> Iterator[Any]:
        return iter((self.base, self.sim))


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The simulator behind uvicorn in a thread of its own: every call crosses a TCP socket."""
    sim = PesapalSimulator()
    sim.behaviour.ipn = "never"  # no IPN to deliver: the status is asked
    port = next(p for p in PORTS if _free(p))
    server = uvicorn.Server(
        uvicorn.Config(sim.create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the simulator did not start"
        time.sleep(0.02)
    yield Served(f"http://127.0.0.1:{port}", sim)
    server.should_exit = True
    thread.join(15)


async def _refund(base: str, sim: PesapalSimulator, amount: str = "200.00") -> tuple[Any, dict[str, Any]]:
    """A paid card order at the simulator, then one RefundRequest over HTTP: (what the client
    returned or raised, the transaction's status afterwards)."""
    config = PesapalConfig(base_url=base, consumer_key="key", consumer_secret="secret", timeout_s=10)
    async with httpx.AsyncClient() as http:
        client = PesapalClient(config, http=http, tokens=MemoryTokenCache(lambda: fetch_token(http, config)))
        ipn_id = await client.ensure_ipn(url="https://kibeti.test/pesapal/ipn")
        submitted = await client.submit_order(
            merchant_reference=f"KBT-E{next(_references)}", amount=Decimal("500.00"), currency="KES",
            description="test", callback_url="https://kibeti.test/pesapal/return", notification_id=ipn_id,
            phone="+254733000001",
        )  # fmt: skip
        order = sim.pay(submitted.order_tracking_id, "card")
        assert order is not None
        said: Any
        try:
            said = await client.refund(
                confirmation_code=order.confirmation_code, amount=Decimal(amount), username="u", remarks="r"
            )
        except (RailRefused, RailOutcomeUnknown) as exc:
            said = exc
        status = await client.transaction_status(order_tracking_id=submitted.order_tracking_id)
    return said, status


def _mode(sim: PesapalSimulator, fault: str, body: Any, http_status: int = 200) -> None:
    sim.behaviour.refund, sim.behaviour.refund_lost_as = fault, "error_body"
    sim.behaviour.refund_error_body, sim.behaviour.refund_error_http = body, http_status
    sim.behaviour.refund_approval = "instant"


@pytest.mark.parametrize("http_status", [200, 400])
@pytest.mark.parametrize("fault", ["answer_lost", "request_lost"])
@pytest.mark.parametrize("preset", sorted(set(ERROR_BODIES) - {"refused"}))
def test_an_error_body_that_does_not_say_not_done_is_unknown(
    served: Served, preset: str, fault: str, http_status: int
) -> None:
    base, sim = served
    _mode(sim, fault, preset, http_status)
    said, status = asyncio.run(_refund(base, sim))
    assert isinstance(said, RailOutcomeUnknown), said  # never a refusal: the hold must stay
    if fault == "answer_lost":  # PesaPal had taken (and here made) it: only the status tells
        assert (status["status_code"], status["description"]) == (3, "Refunded KES 200.00")
    else:
        assert (status["status_code"], status["description"]) == (1, "")


def test_an_error_body_with_a_refusal_code_is_a_refusal(served: Served) -> None:
    base, sim = served
    _mode(sim, "request_lost", "refused")
    said, status = asyncio.run(_refund(base, sim))
    assert isinstance(said, RailRefused) and said.provider_code == "invalid_refund_amount", said
    assert said.provider_http_status == 200 and status["status_code"] == 1
    sim.behaviour.refund = "normal"  # PesaPal's own refusals carry a code per rule, over the wire too
    said, _ = asyncio.run(_refund(base, sim, amount="500.01"))
    assert isinstance(said, RailRefused) and said.provider_code == "invalid_refund_amount", said
    said, status = asyncio.run(_refund(base, sim))
    assert said is True and status["status_code"] == 3


CODES = st.one_of(
    st.sampled_from(sorted(wire.REFUND_REFUSALS)),
    st.sampled_from(["internal_server_error", "refund_failed", "api_error", "", "timeout"]),
    st.text(max_size=24),
    st.none(),
    st.integers(),
)
ERRORS = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.fixed_dictionaries(
        {"code": CODES},
        optional={
            "error_type": st.sampled_from(["api_error", "authentication_error", "validation_error", ""]),
            "message": st.one_of(st.none(), st.text(max_size=40)),
        },
    ),
    st.lists(st.integers(), max_size=2),
)
BODIES = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "error": ERRORS,
            "status": st.sampled_from(["500", "200", "400", 500, 200, ""]),
            "message": st.text(max_size=30),
        },
    ),
    st.lists(st.text(max_size=5), max_size=2),
    st.text(max_size=10),
    st.none(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, http_status=st.sampled_from([200, 201, 400, 401, 404, 422, 500, 502, 503]))
def test_any_error_body_is_a_refusal_only_when_its_code_says_not_done(
    served: Served, body: Any, http_status: int
) -> None:
    """Whatever PesaPal (or a proxy before it) answers, after a RefundRequest PesaPal did not act on:
    refused only for a known refusal code (or an authentication error) below HTTP 500; accepted only
    for a clean status "200"; anything else unknown, never a crash."""
    base, sim = served
    _mode(sim, "request_lost", body, http_status)
    said, status = asyncio.run(_refund(base, sim))
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    kind = error.get("error_type") if isinstance(error, dict) else None
    shown = str(body.get("status", "")) if isinstance(body, dict) else ""
    if isinstance(said, RailRefused):
        assert code in wire.REFUND_REFUSALS or kind in wire.REFUSAL_ERROR_TYPES, (body, said)
        assert http_status < 500 and shown != "200", (body, http_status)  # a 401 twice: nothing was looked at
    elif said is True:
        assert 200 <= http_status < 300 and shown == "200", (body, http_status)
        assert not (isinstance(error, dict) and (error.get("code") or error.get("message"))), body
    else:
        assert isinstance(said, RailOutcomeUnknown), said
    assert status["status_code"] == 1  # nothing was done: Completed, whatever the answer said
