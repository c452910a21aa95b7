"""Issue 12 item 3: after a PIN reset every way out waits the cool-down (send included) while
receiving still works; staff never choose a PIN (the customer gets a one-time code by SMS and the
old PIN stops working); SMS on PIN reset, change and lockout in the customer's language."""

from __future__ import annotations

import pytest

from compliance import jobs
from compliance.seed import ensure_defaults
from core.flows.service import CoreFlows
from core.identity import flows as identity_flows
from core.identity import notices
from core.identity import service as identity
from core.identity.errors import PinIncorrect, PinLocked, PinResetPending, WithdrawalsCoolingDown
from core.money import Asset, Money
from tests.integration.compliance import issue12
from tests.integration.compliance.test_api_cli import staff_token
from tests.integration.identity.api_helpers import api_client


@pytest.fixture
async def pg(pg_session_factory, clock):  # type: ignore[no-untyped-def]
    async with pg_session_factory() as session, session.begin():
        await ensure_defaults(session=session, now=clock.now())
    return pg_session_factory


async def pin_notices(factory, customer_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [k["code"] for k in await issue12.staged(factory, notices.JOB) if k["customer_id"] == customer_id]


@pytest.mark.parametrize(
    ("language", "words"), [("en", "Your Kibeti code is"), ("sw", "Nambari yako ya Kibeti")]
)
async def test_a_staff_reset_sends_a_code_and_then_a_send_waits_the_cool_down(
    pg, clock, language: str, words: str
) -> None:
    rt = issue12.build_runtime(pg, clock)
    flows = CoreFlows(rt)
    customer_id = await issue12.register(flows, "+254712200001", "51234567", language=language)
    friend = await issue12.register(flows, "+254712200002", "52234567", name="Otieno Juma")
    for who in (customer_id, friend):
        await jobs.verify_identity(who)
        await issue12.give_kes(pg, who, "5000")

    support = {"Authorization": f"Bearer {await staff_token(pg, clock, 'support')}"}
    async with api_client(rt) as (_app, client):
        reset = await client.post(
            f"/api/staff/customers/{customer_id}/reset-pin", json={"kyc_rechecked": True}, headers=support
        )
    assert reset.status_code == 200 and reset.json()["status"] == "code_sent", reset.text
    sms = rt.notifier.sent  # type: ignore[union-attr]
    [code_sms] = [s for s in sms if s["phone"] == "+254712200001" and words in s["text"]]
    code = "".join(ch for ch in code_sms["text"] if ch.isdigit())[:6]
    assert await pin_notices(pg, customer_id) == [notices.PIN_RESET_STARTED]
    assert (await issue12.customer(pg, customer_id)).pin_reset_pending

    with pytest.raises(PinResetPending):  # the old PIN is dead until a new one is set
        await flows.confirm_send(
            customer_id=customer_id, quote_id="kes:10000", to_phone="+254712200002", pin=issue12.PIN,
            idempotency_key="before",
        )  # fmt: skip
    async with pg() as session:
        await identity_flows.reset_pin_with_otp(
            limiter=None,
            session=session,
            phone="+254712200001",
            otp=code,
            national_id="51234567",
            new_pin="7395",
            clock=clock,
        )
        await session.commit()
    assert not (await issue12.customer(pg, customer_id)).pin_reset_pending
    assert await pin_notices(pg, customer_id) == [notices.PIN_RESET_STARTED, notices.PIN_RESET]

    with pytest.raises(WithdrawalsCoolingDown):  # a send is a way out too
        await flows.confirm_send(
            customer_id=customer_id, quote_id="kes:10000", to_phone="+254712200002", pin="7395",
            idempotency_key="after",
        )  # fmt: skip
    received = await flows.confirm_send(  # receiving still works
        customer_id=friend,
        quote_id="kes:20000",
        to_phone="+254712200001",
        pin=issue12.PIN,
        idempotency_key="in",
    )
    assert received.status == "done"
    assert (await issue12.kes_wallet(pg, customer_id))[1] == Money.of("5200", Asset.KES)
    clock.advance(hours=24, seconds=1)
    done = await flows.confirm_send(
        customer_id=customer_id,
        quote_id="kes:10000",
        to_phone="+254712200002",
        pin="7395",
        idempotency_key="later",
    )
    assert done.status == "done"


@pytest.mark.parametrize(
    ("code", "en", "sw"),
    [
        (notices.PIN_RESET, "paused for 24 hours", "kumesitishwa kwa saa 24"),
        (notices.PIN_RESET_STARTED, "enter the code we sent you", "uweke nambari tuliyokutumia"),
        (notices.PIN_CHANGED, "PIN was changed", "imebadilishwa"),
        (notices.PIN_LOCKED, "is locked", "imefungwa"),
    ],
)
def test_pin_notices_in_both_languages(code: str, en: str, sw: str) -> None:
    assert en in issue12.pin_notice_text(code, "en")
    assert sw in issue12.pin_notice_text(code, "sw") and en not in issue12.pin_notice_text(code, "sw")


async def test_a_change_and_a_lockout_each_send_an_sms(pg, clock) -> None:
    rt = issue12.build_runtime(pg, clock)
    customer_id = await issue12.register(CoreFlows(rt), "+254712200003", "53234567", language="sw")
    async with pg() as session:
        await identity.change_pin(
            limiter=None,
            session=session,
            customer_id=customer_id,
            old_pin=issue12.PIN,
            new_pin="7395",
            clock=clock,
        )
        await session.commit()
    assert await pin_notices(pg, customer_id) == [notices.PIN_CHANGED]
    for _ in range(5):
        try:
            await identity_flows.check_pin(
                limiter=None, session_factory=pg, customer_id=customer_id, pin="0000", clock=clock
            )
        except PinIncorrect:
            continue
        except PinLocked:
            break
    else:
        pytest.fail("the PIN never locked")
    assert await pin_notices(pg, customer_id) == [notices.PIN_CHANGED, notices.PIN_LOCKED]
