"""QA wording findings over the USSD callback (PostgreSQL, Redis, the real compliance gate), en and sw:
a KES amount not understood says what is accepted ("500 or 100.50") and 1,000.50 then goes through;
a till that is not digits ("12a") is told so, not "No merchant with till 12a"; a verified (Tier 1)
customer's My account > limits keeps its "what next" hint in Swahili as in English, within 160."""

from __future__ import annotations

import httpx
import pytest

from compliance import jobs
from core.clock import FixedClock
from core.i18n.catalog import translate
from core.merchants import service as merchants
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import customer_id_of, fund, funded, refresh_rates, registered

TILL = "246810"
LANGUAGE_CHOICE = {"en": "1", "sw": "2"}


async def _merchant(rt: Runtime) -> None:
    async with rt.session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Mama Mboga Stores", actor="test", clock=FixedClock(), till_code=TILL,
            settlement_method="till", settlement_till="5551234", notification_phones=["+254711222333"],
            language="en", settlement_schedule="daily",
        )  # fmt: skip
        merchant.status = "active"
        await session.commit()


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_pay_merchant_wording(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking, language: str
) -> None:
    rt = ussd_runtime
    await _merchant(rt)
    phone = await funded(client, rt, "+254712345678", LANGUAGE_CHOICE[language], "5000", "KES")
    await phone.menu("4", "3")
    refused = await phone.send("12a")
    assert refused.startswith("CON " + translate("error.merchant_till_digits", language) + "\n"), refused
    assert "12a" not in refused  # not "No merchant with till 12a"
    assert "Mama Mboga Stores" in await phone.send(TILL)  # the same session goes on with a real till
    bad = await phone.send("1.000,50")
    hint = translate("error.amount_format_kes_any", language)
    assert bad.startswith(f"CON {hint}\n"), bad
    assert hint.endswith(("like 500 or 100.50", "kama 500 au 100.50"))
    source = await phone.send("1,000.50")  # what the hint says is accepted
    assert "KES 1,000.50" in source and hint not in source, source


@pytest.mark.parametrize(
    ("language", "hint"),
    [
        ("en", "Next: ID photos and a selfie online for Tier 2."),
        ("sw", "Kiwango 2: picha za ID na selfie mtandaoni."),
    ],
)
async def test_a_tier_1_customer_sees_the_next_step_in_both_languages(
    client: httpx.AsyncClient, ussd_runtime: Runtime, at_fake: FakeAfricasTalking, language: str, hint: str
) -> None:
    rt = ussd_runtime
    await refresh_rates(rt)
    phone = await registered(client, "+254712345678", LANGUAGE_CHOICE[language])
    await jobs.verify_identity(
        await customer_id_of(rt, phone.number)
    )  # the identity registry matched: Tier 1
    await fund(rt, phone.number, "50", "USDT-TRC20")
    await phone.menu("3", "3", "3")  # sell USDT 20: something used today
    await phone.send("20")
    assert (await phone.send("4826")).startswith("END ")
    screen = await phone.menu("9", "3")
    lines = screen.removeprefix("END ").split("\n")
    assert len(screen) - 4 <= 160
    assert lines[-1] == hint  # sw used to drop it: the screen was over 160 with it
    expected = {
        "en": ["KYC: verified (Tier 1)", "Per transaction: KES 250,000.00", "Daily limit: KES 500,000.00"],
        "sw": ["KYC: imethibitishwa (Kiwango 1)", "Kwa muamala: KES 250,000.00", "Kwa siku: KES 500,000.00"],
    }[language]
    assert lines[:3] == expected  # nothing dropped for the hint: status, tier, both limits, used today
    used = {"en": "Used today: KES ", "sw": "Umetumia leo: KES "}[language]
    assert lines[3].startswith(used) and not lines[3].endswith(" 0.00") and len(lines) == 5
