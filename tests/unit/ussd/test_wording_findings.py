"""QA wording findings on USSD screens, en and sw: an amount hint that says what is accepted ("500 or
100.50"; M-Pesa whole shillings where M-Pesa pays), a till that is not digits told so (not "No merchant
with till 12a"), and My account > limits keeping its "what next" hint in Swahili within 160 characters."""

from __future__ import annotations

import pytest

from channels.ussd.engine import Engine
from channels.ussd.session import MemorySessionStore
from channels.ussd.states import TABLE
from core.flows.types import AccountStatus
from core.i18n.catalog import translate
from core.money import Asset, Money
from tests.unit.ussd.conftest import Phone
from tests.unit.ussd.fakes import FAKE_TILL, FakeFlows

NUMBER = "+254712345678"
LANGUAGES = ["en", "sw"]


def _phone(flows: FakeFlows, language: str) -> Phone:
    flows.add_customer(NUMBER, language=language)
    return Phone(Engine(table=TABLE, store=MemorySessionStore(), flows=flows, secret=b"test-secret"), NUMBER)


def _error(code: str, language: str) -> str:
    return translate(f"error.{code}", language)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_kes_amount_not_understood_says_cents_are_fine(language: str) -> None:
    phone = _phone(FakeFlows(), language)
    await phone.dial()
    await phone.send("4")
    await phone.send("3")
    await phone.send(FAKE_TILL)
    refused = await phone.send("12x")
    hint = _error("amount_format_kes_any", language)
    assert refused.startswith(f"CON {hint}\n")
    assert "500" in hint and "100.50" in hint and "digits only" not in hint and "tarakimu tu" not in hint
    source = await phone.send("1,000.50")  # what the hint promises is taken
    assert "KES 1,000.50" in source and not source.startswith(f"CON {hint}")


@pytest.mark.parametrize("language", LANGUAGES)
async def test_buying_by_m_pesa_says_whole_shillings(language: str) -> None:
    phone = _phone(FakeFlows(), language)
    await phone.dial()
    for choice in ("2", "1", "1"):  # Buy > BTC > M-Pesa
        await phone.send(choice)
    whole = _error("amount_format_kes_whole", language)
    assert (await phone.send("100.50")).startswith(f"CON {whole}\n")
    assert (await phone.send("abc")).startswith(f"CON {whole}\n")
    assert "M-Pesa" in whole and "500" in whole


@pytest.mark.parametrize(("language", "unknown"), [("en", "No merchant"), ("sw", "Hakuna mfanyabiashara")])
async def test_a_till_that_is_not_digits_is_told_so(language: str, unknown: str) -> None:
    flows = FakeFlows()
    phone = _phone(flows, language)
    await phone.dial()
    await phone.send("4")
    await phone.send("3")
    refused = await phone.send("12a")
    assert refused.startswith("CON " + _error("merchant_till_digits", language) + "\n")
    assert unknown not in refused
    assert translate("ussd.merchant.till", language).split("\n")[-1] in refused  # asked again
    assert flows.movements == []


class LimitsFlows(FakeFlows):
    """The limits screen's longest realistic forms: the default tier limits, the whole day used."""

    def __init__(self, status: AccountStatus) -> None:
        super().__init__()
        self.status = status

    async def account_status(self, *, customer_id: int) -> AccountStatus:
        return self.status


def _kes(amount: str) -> Money:
    return Money.of(amount, Asset.KES)


CASES = [  # (kyc status, tier, per transaction, daily, next step): compliance.gate.next_step's outcomes
    ("none", "Tier 0", "5000", "10000", "verify_id"),
    ("pending", "Tier 0", "5000", "10000", "identity_review"),
    ("verified", "Tier 1", "250000", "500000", "documents"),
    ("verified", "Tier 1", "250000", "500000", "identity_review"),
    ("pending", "Tier 1", "250000", "500000", "identity_review"),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("kyc", "tier", "per_tx", "daily", "step"), CASES)
async def test_the_limits_screen_keeps_what_next_in_both_languages(
    language: str, kyc: str, tier: str, per_tx: str, daily: str, step: str
) -> None:
    status = AccountStatus(kyc, tier, _kes(per_tx), _kes(daily), _kes(daily), next_step=step)
    phone = _phone(LimitsFlows(status), language)
    await phone.dial()
    await phone.send("9")
    screen = await phone.send("3")
    lines = screen.removeprefix("END ").split("\n")
    assert len(screen) - 4 <= 160
    assert lines[-1] == translate(f"ussd.kyc.hint.{step}", language)  # the hint is not dropped
    tier_word = {"en": "Tier", "sw": "Kiwango"}[language]
    assert lines[0] == f"KYC: {translate(f'ussd.kyc.status.{kyc}', language)} ({tier_word} {tier[-1]})"
    for amount in (per_tx, daily):  # nothing else dropped for it: the limits and what was used
        assert f"KES {int(amount):,}.00" in screen
    assert screen.count(f"KES {int(daily):,}.00") == 2
