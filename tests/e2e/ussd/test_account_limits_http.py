"""My account > KYC status and limits, over the USSD callback with the real ComplianceGate: the tier and
its limits come from compliance (not "not set"), used-today counts the day's movements; en and sw."""

from __future__ import annotations

import httpx
import pytest

from compliance import jobs
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import AtPhone, customer_id_of, fund, refresh_rates, registered


async def _limits_screen(phone: AtPhone) -> str:
    await phone.dial()
    await phone.send("9")
    return await phone.send("3")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "1",
            "END KYC: under review (Tier 0)\nPer transaction: KES 5,000.00\n"
            "Daily limit: KES 10,000.00\nUsed today: KES 0.00\nNext: we're checking your ID; we'll SMS you.",
        ),
        (
            "2",
            "END KYC: inakaguliwa (Kiwango 0)\nKwa muamala: KES 5,000.00\n"
            "Kwa siku: KES 10,000.00\nUmetumia leo: KES 0.00\nIjayo: tunakagua ID yako; tutakutumia SMS.",
        ),
    ],
)
async def test_a_new_customer_sees_the_tier_0_limits(
    client: httpx.AsyncClient,
    ussd_runtime: Runtime,
    at_fake: FakeAfricasTalking,
    language: str,
    expected: str,
) -> None:
    phone = await registered(client, "+254712345678", language)
    screen = await _limits_screen(phone)
    assert screen == expected
    assert len(screen) - 4 <= 160


async def test_a_verified_customer_sees_their_tier_and_what_they_used_today(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await registered(client, "+254712345678", "1")
    await jobs.verify_identity(
        await customer_id_of(rt, phone.number)
    )  # the identity simulator matched them: Tier 1
    await fund(rt, phone.number, "50", "USDT-TRC20")
    await phone.menu("3", "3", "3")  # issue 19: sell an amount in the crypto
    await phone.send("20")
    assert (await phone.send("4826")).startswith("END ")  # a sell of USDT 20: counted against the limits
    screen = await _limits_screen(phone)
    lines = screen.split("\n")
    assert lines[:3] == [
        "END KYC: verified (Tier 1)",
        "Per transaction: KES 250,000.00",
        "Daily limit: KES 500,000.00",
    ]
    assert lines[3].startswith("Used today: KES ") and lines[3] != "Used today: KES 0.00"
    assert len(screen) - 4 <= 160
