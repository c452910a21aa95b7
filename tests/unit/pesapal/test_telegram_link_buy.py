"""A card / Airtel Money buy in Telegram says the payment link went by SMS, never the M-Pesa prompt."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from channels.telegram import operations, texts
from core.flows.types import Receipt
from core.money import Asset, Money


@dataclass
class _Turn:
    language: str
    data: dict[str, Any] = field(default_factory=dict)

    def t(self, code: str, **values: Any) -> str:
        return texts.t(code, self.language, **values)


@pytest.mark.parametrize("language", ["en", "sw"])
def test_link_buy_shows_the_link_text_not_mpesa(language: str) -> None:
    turn = _Turn(language, {"get": "10 USDT"})
    pay = Money(Decimal("1300"), Asset.KES)
    receipt = Receipt(reference="KBTL1", status="link", amount=pay, details={"pay_at": "/p/abc"})
    text = operations._receipt_text(turn, "buy", receipt)  # type: ignore[arg-type]
    assert text == texts.t("ussd.buy.done_link", language, pay=texts.money(pay, language), get="10 USDT")
    assert "M-Pesa" not in text and "10 USDT" in text


def test_stk_buy_still_shows_the_mpesa_prompt() -> None:
    turn = _Turn("en", {"get": "10 USDT"})
    receipt = Receipt(reference="C1", status="pending", amount=Money(Decimal("1300"), Asset.KES))
    text = operations._receipt_text(turn, "buy", receipt)  # type: ignore[arg-type]
    assert "M-Pesa" in text
