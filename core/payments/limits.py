"""M-Pesa's own limits (PROTOCOLS.md 1.9) and the whole-shilling rule, as pure functions."""

from __future__ import annotations

from decimal import Decimal

from core.identity.phone import normalize_phone
from core.money import Asset, Money
from core.payments.errors import CollectionAmountOutOfRange, PayoutAmountOutOfRange

B2C_MIN = Money.of(10, Asset.KES)
STK_MIN = Money.of(1, Asset.KES)
TXN_MAX = Money.of(250_000, Asset.KES)
CUSTOMER_DAILY_MAX = Money.of(500_000, Asset.KES)


def payout_amount(requested: Money) -> Money:
    """The whole shillings M-Pesa can send: rounds down; the cents stay in the wallet (never lost)."""
    if requested.asset is not Asset.KES:
        raise PayoutAmountOutOfRange("M-Pesa payouts are in KES")
    whole = requested.whole_units()
    if whole < B2C_MIN or whole > TXN_MAX:
        raise PayoutAmountOutOfRange(
            f"an M-Pesa payout must be between KES 10 and KES 250,000, got {requested}"
        )
    return whole


def collection_amount(requested: Money) -> Money:
    if requested.asset is not Asset.KES or requested.amount != requested.amount.to_integral_value():
        raise CollectionAmountOutOfRange("an M-Pesa payment request is in whole Kenya shillings")
    if requested < STK_MIN or requested > TXN_MAX:
        raise CollectionAmountOutOfRange(
            f"an M-Pesa payment must be between KES 1 and KES 250,000, got {requested}"
        )
    return requested


def msisdn(phone: str) -> str:
    """Any accepted phone form -> Daraja's 12-digit MSISDN (2547XXXXXXXX / 2541XXXXXXXX)."""
    return normalize_phone(phone).lstrip("+")


def minor_to_shillings(minor: int) -> int:
    return int(Decimal(minor) / 100)
