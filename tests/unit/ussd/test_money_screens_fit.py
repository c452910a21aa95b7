"""Issue 19's screens with the longest values, in both languages: the amount steps keep their prompt
under any limit message (the session stays open to try another amount), and the variants a state
renders (buy from the KES balance, a sell that keeps cents, a crypto send) fit 160 characters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from channels.ussd.engine import Ctx, Engine, Screen
from channels.ussd.screens import SCREEN_LIMIT
from channels.ussd.session import MemorySessionStore, UssdSession
from channels.ussd.states import TABLE
from core.flows.types import QuoteView
from core.i18n import translate
from core.money import Asset, Money
from tests.unit.ussd.test_lengths import LONG_VALUES, LongFlows, _data

LIMIT_ERRORS = ["amount_format_kes", "amount_format_kes_any", "amount_format_kes_whole", "amount_format_crypto", "amount_over_tx_limit", "amount_over_daily_limit",
                "amount_over_monthly_limit", "amount_over_withdrawal_limit", "amount_over_max",
                "amount_over_balance", "insufficient_funds", "amount_below_payout_minimum"]  # fmt: skip
AMOUNT_STATES = [
    "cashout.amount",
    "buy.amount",
    "sell.amount",
    "sell.amount_kes",
    "send.amount",
    "withdraw.amount",
]
VARIANTS: dict[str, dict[str, object]] = {
    "buy.amount": {"rail": "wallet"},
    "buy.quote": {"rail": "wallet", "amount": "1000000", "amount_asset": "KES"},
    "sell.quote": {},
    "send.confirm": {"asset": Asset.USDT_TRC20.value},
}


class LongerFlows(LongFlows):
    async def cashout_maximum(self, *, customer_id: int) -> Money:
        return Money.of("250000", Asset.KES)

    async def quote_sell(self, *, customer_id: int, amount: Money) -> QuoteView:
        return replace(
            await super().quote_sell(customer_id=customer_id, amount=amount), kept=Money.of("0.99", Asset.KES)
        )


async def _render(
    state: str, language: str, extra: Mapping[str, object], flash: tuple[str, dict[str, Any]] | None
) -> Screen:
    flows = LongerFlows()
    engine = Engine(table=TABLE, store=MemorySessionStore(), flows=flows, secret=b"s")
    session = UssdSession("s", "+254700000000", state, language=language, customer_id=1, data=_data(state))
    session.data.update(extra)
    ctx = Ctx(session=session, flows=flows, service_code="*483*123#", secret=b"s")
    ctx.flash = flash
    return await engine._render(ctx)


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize("state", AMOUNT_STATES)
async def test_a_limit_message_keeps_the_amount_prompt(state: str, language: str) -> None:
    plain = await _render(state, language, {}, None)
    prompt = plain.text.rsplit("\n", 1)[-1]
    # the most allowed is told in the asset typed: KES on the KES steps (at most KES 2,000,000.00)
    typed_kes = state in ("cashout.amount", "buy.amount", "sell.amount_kes")
    values = {k: v for k, v in LONG_VALUES.items() if k != "code"}
    if typed_kes:
        values["max"] = "KES 2,000,000.00"
    for code in LIMIT_ERRORS:
        if (code == "amount_over_withdrawal_limit") != (state == "withdraw.amount") and "withdrawal" in code:
            continue  # only a withdrawal has the crypto-withdrawal limit
        if code == "amount_over_balance" and state != "cashout.amount":
            continue
        error = translate(f"error.{code}", language, **values)
        shown = await _render(state, language, {}, (code, values))
        assert len(shown.text) <= SCREEN_LIMIT, (state, code, len(shown.text), shown.text)
        assert shown.text.startswith(error) and shown.text.endswith(prompt), (state, code, shown.text)
        assert prompt != translate("ussd.nav.back", language), plain.text  # the prompt is the last line


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize("state", sorted(VARIANTS))
async def test_variants_fit(state: str, language: str) -> None:
    screen = await _render(state, language, VARIANTS[state], None)
    assert len(screen.text) <= SCREEN_LIMIT, (state, len(screen.text), screen.text)
    marker = {"buy.amount": ("KES balance", "salio la KES"), "buy.quote": ("KES balance", "salio la KES"),
              "sell.quote": ("Kept in wallet", "Inabaki KES"), "send.confirm": ("You send", "Unatuma")}  # fmt: skip
    assert marker[state][0 if language == "en" else 1] in screen.text, screen.text


@pytest.mark.parametrize("language", ["en", "sw"])
def test_sms_naming_the_network_fit_one_segment(language: str) -> None:
    from core.flows.trading import on_network
    from core.i18n import sms_segments

    amount = on_network(Money.of("1234567.123456", Asset.USDT_ERC20), language)
    assert amount.endswith(("on Ethereum", "kwenye Ethereum")), amount
    values = {"amount": amount, "who": "Wanjiku Kamau Njoroge", "ref": "KBT-1234567890", "pay": "KES 999,999.99",
              "address": "0x52908400...9b8f3d", "name": "Wanjiku", "sender": "Otieno Odhiambo Ochieng"}  # fmt: skip
    for code in ("sms.send_receipt", "sms.receive_receipt", "sms.withdrawal_sent", "sms.buy_wallet_receipt",
                 "sms.buy_receipt"):  # fmt: skip
        text = translate(code, language, code="*483*1#", **values)
        assert sms_segments(text) == 1, (code, len(text), text)
