"""A withdrawal the compliance gate refuses (wallets' WithdrawalRefused, code `withdrawal_refused`)
ends with the refusal's own message, as the web portal shows it, not the generic error."""

from __future__ import annotations

import pytest

from channels.ussd.engine import Engine
from core.addressbook.models import SavedAddressView
from core.errors import KibetiError
from core.money import Asset
from tests.unit.ussd.conftest import Phone
from tests.unit.ussd.fakes import FakeFlows
from wallets.errors import WithdrawalRefused

TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


async def _withdraw_refused(engine: Engine, flows: FakeFlows, language: str, decision: str) -> str:
    flows.add_customer("+254712345678", language=language)
    flows.book = [SavedAddressView(7, "Binance", Asset.USDT_TRC20, TRON)]

    async def refuse(**_: object) -> None:
        raise WithdrawalRefused("sanctioned_address", decision=decision)

    flows.confirm_withdraw = refuse  # type: ignore[method-assign, assignment]
    phone = Phone(engine, "+254712345678")
    await phone.dial()
    await phone.send("4")
    await phone.send("2")
    await phone.send("1")
    await phone.send("10")
    return await phone.send("4826")


@pytest.mark.parametrize(
    ("language", "decision", "expected"),
    [
        ("en", "deny", "END Sorry, we cannot process this request."),
        ("en", "review", "END Your request is under review. We will send you an SMS."),
        ("sw", "deny", "END Samahani, hatuwezi kushughulikia ombi hili."),
        ("sw", "review", "END Ombi lako linakaguliwa. Tutakutumia SMS."),
    ],
)
async def test_a_refused_withdrawal_shows_the_refusal(
    engine: Engine, flows: FakeFlows, language: str, decision: str, expected: str
) -> None:
    answer = await _withdraw_refused(engine, flows, language, decision)
    assert answer.startswith(expected), answer
    assert "went wrong" not in answer and "hitilafu" not in answer.lower()
    assert [kind for kind, _ in flows.movements] == []


class _HeldForReview(KibetiError):
    code = "withdrawal_held_for_review"  # wallets' withdrawal held for staff review


async def test_a_withdrawal_held_for_review_says_so(engine: Engine, flows: FakeFlows) -> None:
    flows.add_customer("+254712345678", language="sw")
    flows.book = [SavedAddressView(7, "Binance", Asset.USDT_TRC20, TRON)]

    async def hold(**_: object) -> None:
        raise _HeldForReview("held for review")

    flows.confirm_withdraw = hold  # type: ignore[method-assign, assignment]
    phone = Phone(engine, "+254712345678")
    for value in ("", "4", "2", "1", "10"):
        await (phone.send(value) if value else phone.dial())
    assert (await phone.send("4826")).startswith("END Ombi lako linakaguliwa. Tutakutumia SMS.")
