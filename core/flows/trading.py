"""Buy, sell and send: quote -> PIN -> compliance gate -> ledger + outbox, in one transaction.

Waits for core.quotes (service) and core.payments; until they exist these raise
ServiceUnavailable naming what is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.flows.errors import ServiceUnavailable
from core.flows.types import QuoteView, Receipt
from core.money import Asset, Money

if TYPE_CHECKING:
    from core.flows.service import CoreFlows


async def quote(flows: CoreFlows, *, customer_id: int, kind: str, asset: Asset, amount: Money) -> QuoteView:
    raise ServiceUnavailable("core.quotes.service (create a stored quote for buy/sell)")


async def quote_send(flows: CoreFlows, *, customer_id: int, to_phone: str, amount: Money) -> QuoteView:
    raise ServiceUnavailable("core.quotes.service (send quote)")


async def confirm_buy(
    flows: CoreFlows, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
) -> Receipt:
    raise ServiceUnavailable("core.payments.create_collection")


async def confirm_sell(
    flows: CoreFlows, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
) -> Receipt:
    raise ServiceUnavailable("core.payments.create_payout")


async def confirm_send(
    flows: CoreFlows, *, customer_id: int, quote_id: str, pin: str, idempotency_key: str
) -> Receipt:
    raise ServiceUnavailable("core.quotes.service (send)")
