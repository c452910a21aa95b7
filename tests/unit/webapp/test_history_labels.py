"""What a movement reads as in the app's history (page and CSV): a transfer between customers by its
direction, a card / Airtel Money top-up as a top-up, an unlabelled kind in words (en and sw)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.ledger.service import Movement
from core.money import Asset, Money
from webapp.customer_portal.wallet import _cell, history_label


def _movement(kind: str, amount: str) -> Movement:
    return Movement(
        entry_id=1, kind=kind, memo="", amount=Money.of(amount, Asset.KES),
        created_at=datetime(2026, 12, 5, tzinfo=UTC), details={},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "amount", "english", "swahili"),
    [
        ("send", "50", "received", "umepokea"),
        ("send", "-50", "sent", "umetuma"),
        ("quote_send", "-5", "sent", "umetuma"),
        ("pesapal_collection", "300", "top-up", "kuweka pesa"),
        ("pesapal_refund", "-100", "refund", "marejesho"),
        ("mpesa_c2b", "500", "M-Pesa in", "M-Pesa"),
        ("some_new_kind", "1", "some new kind", "some new kind"),
    ],
)
def test_history_labels(kind: str, amount: str, english: str, swahili: str) -> None:
    movement = _movement(kind, amount)
    assert history_label(movement, "en") == english
    assert history_label(movement, "sw") == swahili


def test_a_cell_never_starts_a_spreadsheet_formula() -> None:
    assert _cell("=1+1") == "'=1+1" and _cell("@SUM(A1)") == "'@SUM(A1)" and _cell("-2") == "'-2"
    assert _cell("M-Pesa QAB12") == "M-Pesa QAB12" and _cell(None) == ""
