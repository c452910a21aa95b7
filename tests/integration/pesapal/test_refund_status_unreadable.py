"""PesaPal's GetTransactionStatus answering something that is not its documented object (null, a list,
text) about a payment with an open refund: the staff retry of the refund and the two-person release
are answered (never a 500), the refund stays open and its amount held, and staff are told PesaPal's
answer could not be read (try again later, or check PesaPal's dashboard). Once the status reads
again, it settles the refund as before. The real adapter (payouts.pesapal.adapter.PesapalRail) talks
to the simulator served by uvicorn on a real socket (127.0.0.1, a port in 8180-8189); its
status_body fault gives the malformed answer. SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn

from core.clock import FixedClock
from core.config import Settings
from core.money import Asset, Money
from core.rails import refund_release, refund_requests, refunds, service
from core.rails.errors import RailAnswerUnreadable, RefundAwaitingOutcome, RefundStatusUnreadable
from core.rails.refunds import RefundStatus
from payouts.pesapal import adapter
from payouts.pesapal.adapter import PesapalRail
from simulators.pesapal import PesapalSimulator
from tests.integration.pesapal.test_refund_outcomes import PAID, Factory, Paid, _money, _paid

PORTS = range(8180, 8190)
HELD = (PAID, PAID - Decimal("100"), Decimal("0"), 0)  # balance, available, refunded, entries
MALFORMED: list[Any] = [None, ["Request processed successfully"], "Internal error", 500]


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, PesapalSimulator]]:
    """The simulator behind uvicorn in a thread of its own: every call crosses a TCP socket."""
    sim = PesapalSimulator()
    sim.behaviour.ipn = "never"  # no IPN: only the status says what happened
    sim.behaviour.refund_approval = "merchant"  # PesaPal's own: accepted, made once approved
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
    yield f"http://127.0.0.1:{port}", sim
    server.should_exit = True
    thread.join(15)


@pytest.fixture
def rail(served: tuple[str, PesapalSimulator], factory: Factory, clock: FixedClock) -> PesapalRail:
    """The production adapter, pointed at the served simulator (no Redis: tokens kept in process)."""
    base, _ = served
    settings = Settings(
        kibeti_env="test", database_url="sqlite+aiosqlite://", redis_url="", pesapal_base_url=base,
        pesapal_consumer_key="key", pesapal_consumer_secret="secret",
        pesapal_public_base_url="https://kibeti.test",
    )  # fmt: skip
    return PesapalRail(SimpleNamespace(settings=settings, session_factory=factory, clock=clock))  # type: ignore[arg-type]


async def _paid_at_pesapal(factory: Factory, served: tuple[str, PesapalSimulator]) -> tuple[Paid, str]:
    """A card payment the simulator holds as paid, and our completed order naming it."""
    base, sim = served
    paid = await _paid(factory)
    async with factory() as session:
        order = await service.get_order(session=session, order_id=paid.order_id, lock=True)
        ipn = sim.register_ipn({"url": "https://kibeti.test/pesapal/ipn", "ipn_notification_type": "GET"})
        submitted = sim.submit(
            {"id": order.merchant_reference, "amount": "300.00", "currency": "KES", "description": "t",
             "callback_url": "https://kibeti.test/pesapal/return", "notification_id": ipn["ipn_id"]},
            base,
        )  # fmt: skip
        tracking = str(submitted["order_tracking_id"])
        paid_there = sim.pay(tracking, "card")
        assert paid_there is not None
        order.tracking_id, order.confirmation = tracking, paid_there.confirmation_code
        await session.commit()
    return paid, tracking


async def _fault(base: str, tracking: str, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{base}/simulator/orders/{tracking}/status_body", json=body)
        assert answer.status_code == 200, answer.text


async def _ask(factory: Factory, rail: PesapalRail, paid: Paid) -> refund_requests.RefundOutcome:
    return await refund_requests.request_refund(
        factory=factory, rail=rail, order_id=paid.order_id, amount=Money.of("100", Asset.KES),
        staff_email="finance@kibeti.test", remarks="customer asked", actor="staff:1", one_per_payment=True,
    )  # fmt: skip


async def _status(factory: Factory, refund_id: int) -> str:
    async with factory() as session:
        return (await refunds.get_refund(session=session, refund_id=refund_id)).status


@pytest.mark.parametrize("malformed", MALFORMED, ids=["null", "list", "text", "number"])
async def test_an_unreadable_status_answer_keeps_the_refund_held_and_tells_staff(
    factory: Factory,
    clock: FixedClock,
    rail: PesapalRail,
    served: tuple[str, PesapalSimulator],
    malformed: Any,
) -> None:
    base, sim = served
    paid, tracking = await _paid_at_pesapal(factory, served)
    accepted = await _ask(factory, rail, paid)
    assert accepted.status == RefundStatus.ACCEPTED.value, accepted
    assert await _money(factory, paid) == HELD
    await _fault(base, tracking, {"body": malformed})
    with pytest.raises(RailAnswerUnreadable):  # the adapter says so, in a rail error of its own
        await rail.collection_status(provider_reference=tracking)

    with pytest.raises(RefundAwaitingOutcome) as retried:  # the staff retry: answered, nothing sent
        await _ask(factory, rail, paid)
    said = str(retried.value)
    assert said.startswith("PesaPal's status answer could not be read"), said
    assert "KES 100.00 stays held" in said and "Try again in a few minutes" in said
    assert "PesaPal's dashboard" in said
    assert sim.orders[tracking].refund_requests == 1  # never sent twice
    assert await _status(factory, accepted.refund_id) == RefundStatus.ACCEPTED.value
    assert await _money(factory, paid) == HELD

    async with factory() as session:  # two staff: declined on the dashboard, they say
        await refund_release.propose_release(
            session=session, refund_id=accepted.refund_id, maker="staff:1", reason="declined on the dashboard"
        )
        await session.commit()
    with pytest.raises(RefundStatusUnreadable) as confirmed:  # the last look said nothing: not released
        await refund_release.confirm_release(
            factory=factory, rail=rail, refund_id=accepted.refund_id, checker="staff:2"
        )
    assert str(confirmed.value).startswith("PesaPal's status answer could not be read")
    assert await _status(factory, accepted.refund_id) == RefundStatus.ACCEPTED.value
    assert await _money(factory, paid) == HELD
    async with factory() as session:
        row = await refunds.get_refund(session=session, refund_id=accepted.refund_id)
        assert row.outcome.startswith(refund_requests.ACCEPTED_SAID), row.outcome
        assert refund_requests.UNREADABLE_SAID in row.outcome

    await _fault(base, tracking, {})  # PesaPal answers as documented again; the merchant approved it
    assert sim.approve_refund(tracking) is not None
    booked = await _ask(factory, rail, paid)
    assert booked.status == RefundStatus.REFUNDED.value and not booked.unreadable, booked
    assert await _money(factory, paid) == (PAID - Decimal("100"), PAID - Decimal("100"), Decimal("100.00"), 1)


def test_an_amount_that_is_not_a_finite_number_is_read_as_none() -> None:
    """A status amount such as NaN or sNaN is no amount (sNaN raised on the order's comparison)."""
    for amount in ("NaN", "sNaN", "Infinity", "-Infinity", "abc", [1], {"a": 1}):
        assert adapter.result_of({"status_code": 1, "amount": amount}).amount is None, amount
    assert adapter.result_of({"status_code": 1, "amount": Decimal("300.00")}).amount == Decimal("300.00")


def test_the_desk_says_so_in_english_and_swahili() -> None:
    """The staff desk shows a refused confirmation in the viewer's language (a catalogue text)."""
    from webapp.staff_portal.actions import message

    refused = RefundStatusUnreadable("PesaPal's status answer could not be read ...")
    english, swahili = message(refused, "en"), message(refused, "sw")
    assert english.startswith("PesaPal's status answer could not be read") and "held" in english
    assert swahili.startswith("Jibu la hali kutoka PesaPal halikuweza kusomeka") and english != swahili
