"""Top up the KES wallet by card or Airtel Money (the customer portal's "Add money"): an order on a
hosted rail whose link goes by SMS and whose `pay_at` path a web page can open at once. The KES is
credited when the rail's own status query confirms it, then meets the compliance gate as every
top-up does (core.rails.jobs)."""

from __future__ import annotations

from core.flows import accounts
from core.flows.errors import ServiceUnavailable
from core.flows.trading import payment_link_path
from core.flows.types import Receipt
from core.identity import service as identity
from core.money import Asset, Money
from core.quotes.errors import AmountTooLarge, AmountTooSmall
from core.quotes.maths import MPESA_MAX, MPESA_MIN, Rail
from core.rails import service
from core.runtime import Runtime

PURPOSE = "topup"


async def start_topup(
    rt: Runtime, *, customer_id: int, amount: Money, idempotency_key: str, rail: Rail | None = None
) -> Receipt:
    """Refused at once (nothing written) for an amount outside 10..250,000 KES or a rail that is not
    wired; the same key again returns the same order."""
    if amount.asset is not Asset.KES or amount.amount < MPESA_MIN:
        raise AmountTooSmall(f"the minimum top-up is KES {MPESA_MIN}")
    if amount.amount > MPESA_MAX:
        raise AmountTooLarge(f"the maximum top-up is KES {MPESA_MAX:,}")
    async with rt.session_factory() as session:
        customer = await identity.get_customer(session=session, customer_id=customer_id)
        chosen = rail or Rail.PESAPAL  # M-Pesa top-ups are the paybill's (C2B), not an order here
        if chosen is not Rail.PESAPAL or chosen.value not in rt.collection_rails:
            raise ServiceUnavailable(f"no hosted collection rail {chosen.value!r} for top-ups")
        wallet = await accounts.wallet_account_id(session, customer.id, Asset.KES)
        order = await service.create_order(
            session=session, rail=chosen.value, purpose=PURPOSE, idempotency_key=idempotency_key,
            customer_id=customer.id, account_id=wallet, phone=customer.phone, amount=amount,
        )  # fmt: skip
        await session.commit()
    pay_at = payment_link_path(order.link_code)
    return Receipt(
        reference=order.merchant_reference, status="link", amount=amount, details={"pay_at": pay_at}
    )
