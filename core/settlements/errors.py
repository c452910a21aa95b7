"""Named settlement, merchant-payment and refund errors."""

from __future__ import annotations

from core.errors import KibetiError


class NoSuchTill(KibetiError, LookupError):
    """No active merchant has this Kibeti till code."""

    code = "merchant_till_unknown"

    def __init__(self, till: str) -> None:
        super().__init__(f"No merchant with till {till}")
        self.values = {"till": till}


class UnknownSettlement(KibetiError, LookupError):
    code = "settlement_not_found"
    http_status = 404


class NothingToSettle(KibetiError, ValueError):
    code = "nothing_to_settle"


class InvalidDestination(KibetiError, ValueError):
    """The merchant's settlement method names no usable destination."""

    code = "settlement_destination_invalid"
