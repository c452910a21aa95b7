"""The merchant's SMS: one GSM-7 segment in English and Swahili with the longest values; the payer's
number masked; when it settles (today, or tomorrow after the daily batch); the daily batch hour."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.i18n.gsm import gsm7_safe
from core.merchants.models import Merchant
from core.settlements.models import MerchantCredit, Settlement
from core.settlements.notices import paid_text, settlement_text
from core.settlements.service import mask_phone
from core.settlements.settle import daily_due


def _merchant(language: str, method: str = "paybill", schedule: str = "daily") -> Merchant:
    return Merchant(
        id=1, name="Mama Mboga", language=language, settlement_method=method, settlement_till="1234567",
        settlement_paybill="8888888", settlement_account="ACCOUNT-12345", settlement_phone="+254712345678",
        settlement_schedule=schedule, notification_phones=["+254711000111"],
    )  # fmt: skip


CREDIT = MerchantCredit(
    id=1,
    reference="INV-8F3KQ2ZX9WAB1234",
    payer="0712***678",
    paid_asset="USDT-ERC20",
    gross_minor=99_999_999_99,
)


@pytest.mark.parametrize("language", ["en", "sw"])
@pytest.mark.parametrize("method", ["till", "paybill", "phone"])
def test_one_gsm7_segment(language: str, method: str) -> None:
    for credit in (CREDIT, MerchantCredit(id=1, reference=CREDIT.reference, payer="", paid_asset="USDT-ERC20",
                                          gross_minor=CREDIT.gross_minor)):  # fmt: skip
        text = paid_text(_merchant(language, method), credit, datetime(2026, 12, 5, 18, tzinfo=UTC))
        assert len(text) <= 160 and gsm7_safe(text) == text, text
    for status in ("paid", "failed"):
        row = Settlement(id=123456, method=method, destination="8888888", account_reference="ACCOUNT-12345",
                         amount_minor=25_000_000, receipt="SKL1234XYZ", status=status)  # fmt: skip
        text = settlement_text(_merchant(language, method), row)
        assert len(text) <= 160 and gsm7_safe(text) == text, text


def test_the_example_text() -> None:
    credit = MerchantCredit(id=1, reference="INV-8F3K", payer="0712***678", gross_minor=125_000)
    text = paid_text(_merchant("en", "till", "instant"), credit, datetime(2026, 12, 5, 9, tzinfo=UTC))
    assert text == "Kibeti: KES 1,250.00 paid by 0712***678 for INV-8F3K. Settles to till 1234567 today."
    evening = datetime(2026, 12, 5, 15, tzinfo=UTC)  # 18:00 in Nairobi: after the daily batch
    assert paid_text(_merchant("sw", "till"), credit, evening).endswith("Zitatumwa kwa till 1234567 kesho.")


def test_an_invoice_paid_on_chain_names_the_network() -> None:
    credit = MerchantCredit(
        id=2, reference="inv_abc123", payer="", paid_asset="USDT-TRC20", gross_minor=250_000
    )
    now = datetime(2026, 12, 5, 9, tzinfo=UTC)
    assert paid_text(_merchant("en", "till", "instant"), credit, now) == (
        "Kibeti: KES 2,500.00 paid in USDT-TRC20 for inv_abc123. Settles to till 1234567 today."
    )
    assert paid_text(_merchant("sw", "till", "instant"), credit, now).startswith(
        "Kibeti: KES 2,500.00 zimelipwa kwa USDT-TRC20, inv_abc123."
    )


def test_masking_and_the_batch_hour() -> None:
    assert mask_phone("+254712345678") == "0712***678" and mask_phone("0712345678") == "0712***678"
    assert mask_phone("12") == "***"
    assert not daily_due(datetime(2026, 12, 5, 13, 59, tzinfo=UTC), 17)  # 16:59 Nairobi
    assert daily_due(datetime(2026, 12, 5, 14, 0, tzinfo=UTC), 17)
