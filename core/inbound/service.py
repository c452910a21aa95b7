"""The one place money arriving in a customer's wallet meets the compliance gate.

Every crediting function (chain deposits, paybill top-ups, received sends) calls `credit_arrived`
right after it posts the credit, in the same transaction: the gate records the movement (so limits
and the monitoring typologies see money coming in as well as going out) and, when the amount is
over a limit, holds it in the wallet (a ledger hold: double entry intact, not spendable), raises a
review alert and tells the customer by SMS. Money that has arrived is never refused or lost here.
A crypto credit that cannot be valued in KES at all (no rate was ever stored: a fresh install) is
held for review too (reason `inbound_unvalued`): a zero value would pass every limit.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_UP

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core import runtime
from core.clock import Clock
from core.fx import service as fx
from core.fx.errors import RatesUnavailable
from core.money import Asset, Money
from core.ports import ComplianceGate, GateResult, MovementCheck

log = structlog.get_logger(__name__)
DEPOSIT, TOPUP, RECEIVE = "deposit", "topup", "receive"
ANY_AGE = timedelta(days=36_500)


def _gate() -> tuple[ComplianceGate | None, Clock | None, bool]:
    try:
        rt = runtime.get()
    except RuntimeError:  # a bare script or test without a Runtime: nothing to ask
        return None, None, False
    return rt.compliance, rt.clock, rt.settings.is_production


async def kes_value(session: AsyncSession, amount: Money, clock: Clock | None) -> Money | None:
    """The KES value the limits are in, at the rate the customer flows' limits use (never the balances
    screen's cache). Money that arrived is never refused, so with no fresh rate it is valued at the
    newest stored rate however old (a stale value still trips a limit; zero would pass every one), and
    is None (no value: the gate holds it) only when no rate was ever stored; both are logged."""
    if amount.asset is Asset.KES:
        return amount
    from core.flows import accounts  # the rate lookup the customer flows use
    from core.flows.errors import LimitRateUnavailable

    if clock is None:
        return None
    try:
        return await accounts.limit_value(session, amount, clock)
    except LimitRateUnavailable:
        pass
    try:
        rate = await fx.latest_rate(
            session=session, base=amount.asset.currency, quote="KES", clock=clock, max_age=ANY_AGE
        )
    except RatesUnavailable:
        log.error("inbound_unvalued", asset=amount.asset.value, reason="no rate ever stored: held")
        return None
    log.warning("inbound_valued_at_stale_rate", asset=amount.asset.value, as_of=rate.as_of.isoformat())
    return Money.quantize(amount.amount * rate.ask, Asset.KES, rounding=ROUND_UP)


async def credit_arrived(
    *,
    session: AsyncSession,
    customer_id: int,
    account_id: int,
    amount: Money,
    kind: str,
    counterparty: str,
    reference: str,
) -> GateResult | None:
    """Check a credit just posted to `account_id` (the customer's wallet) in `session`. Returns the
    gate's result (not `allowed`: the credit is held for review), or None with no gate wired."""
    gate, clock, production = _gate()
    if gate is None:  # the credit stands (money that arrived is never refused): say so loudly
        (log.error if production else log.warning)("inbound_unchecked", kind=kind, reference=reference)
        return None
    value = await kes_value(session, amount, clock)
    check = MovementCheck(
        customer_id=customer_id,
        kind=kind,
        amount=amount,
        amount_kes=value if value is not None else Money.zero(Asset.KES),
        counterparty=counterparty,
        valued=value is not None,  # no value at all: held for review, never passed as KES 0
    )
    result = await gate.check_inbound(
        session=session, movement=check, account_id=account_id, reference=reference
    )
    if not result.allowed:
        log.info("inbound_held", kind=kind, reference=reference, reason=result.reason_code)
    return result
