"""Money reads the same on every channel: web pages write KES as SMS and USSD do ("KES 5,000.00",
with a space, in English and Swahili), the PesaPal simulator's page shows "500.00", not "500.0",
and each language has one word for a demo (English DEMO, Swahili MAJARIBIO)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.money import Asset, Money, format_money
from simulators.pesapal import SimOrder, _page
from webapp.web import i18n

LOCALES = Path(__file__).resolve().parents[3] / "core" / "i18n" / "locale"


@pytest.mark.parametrize("language", ["en", "sw"])
def test_web_pages_write_kes_as_sms_and_ussd_do(language: str) -> None:
    amount = Money.of("5000", Asset.KES)
    assert i18n.money(amount, language) == "KES 5,000.00" == format_money(amount, language)
    assert i18n.money_minor(123_450, "KES", language) == "KES 1,234.50"


def test_the_pesapal_page_shows_the_amount_with_two_decimals() -> None:
    order = SimOrder(
        order_tracking_id="t1", merchant_reference="r1", amount=Decimal("5000.0"), currency="KES",
        description="Top-up", callback_url="http://x", notification_id="n", phone="",
        created=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    page = _page(order, "/pay")
    assert "<h1>Pay KES 5,000.00</h1>" in page and "5000.0<" not in page


@pytest.mark.parametrize(
    ("language", "word", "other"), [("en", "DEMO", "MAJARIBIO"), ("sw", "MAJARIBIO", "DEMO")]
)
def test_one_word_for_demo_per_language(language: str, word: str, other: str) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        texts = [m.string for m in read_po(handle) if m.id and isinstance(m.string, str)]
    assert any(re.search(rf"\b{word}\b", text) for text in texts)
    assert [text for text in texts if re.search(rf"\b{other}\b", text)] == []
