"""The staff alert about a payout whose outcome has been unknown for 30 minutes: core stages it by name
(core.outbox.handlers.PAYOUT_LONG_UNKNOWN, from core.payments.service.stage_long_unknown_alerts);
webapp.bootstrap registers `payout_long_unknown` under that name. One alert per payout."""

from __future__ import annotations

from core import runtime
from core.money import Asset, Money, format_money
from core.payments import queries as payment_queries

RULE = "payout_long_unknown"


async def payout_long_unknown(payout_id: str) -> int:
    """Raise the staff alert about a payout unknown for 30 minutes (idempotent: one per payout,
    however often it is staged or run); returns the alert's id, 0 when there is no such payout or it
    left unknown before this ran (paid or failed meanwhile: nothing is held any more)."""
    from compliance import cases

    current = runtime.get()
    async with current.session_factory() as session:
        payout = await payment_queries.find_payout(session=session, payout_id=payout_id)
        if payout is None or payout.status != "unknown":
            return 0
        amount = format_money(Money.from_minor(payout.amount_minor, Asset.KES), "en")
        since = payout.unknown_since.isoformat() if payout.unknown_since is not None else "?"
        alert = await cases.raise_alert(
            session=session, dedupe_key=f"payout-long-unknown:{payout_id}", customer_id=payout.customer_id,
            source="payouts", rule_code=RULE, score=60,
            summary=(f"M-Pesa payout {payout_id} ({amount} to {payout.phone}) has had an unknown outcome "
                     f"since {since}: still held. Check it on the payouts desk (docs/OPERATIONS.md, "
                     "payout stuck unknown) before doing anything with the money."),
            details={"payout_id": payout_id, "unknown_since": since, "status": payout.status,
                     "merchant_id": payout.merchant_id},
            movement_ids=[], now=current.clock.now(),
        )  # fmt: skip
        await session.commit()
        return alert.id
