"""Limits before the PIN (issue 19): what the gate and the PIN check would refuse, told at the
amount step with the most allowed, so the customer can try another amount in the same session.

The compliance gate stays the authority at the PIN (it also counts what others did meanwhile);
this is a read that names the numbers early.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.flows import accounts
from core.flows.errors import (
    AccountOnHold,
    AmountOverLimit,
    CryptoWithdrawalsNotAllowed,
    LimitRateUnavailable,
)
from core.identity import service as identity
from core.identity.errors import PinLocked
from core.money import Asset, Money

if TYPE_CHECKING:
    from core.flows.service import CoreFlows

MONEY_OUT = frozenset({"sell", "send", "withdraw"})  # what waits out the cool-down after a PIN reset


async def check_amount(flows: CoreFlows, *, customer_id: int, kind: str, amount: Money) -> None:
    rt = flows.rt
    async with rt.session_factory() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        customer = await identity.get_customer(session=session, customer_id=customer_id)
        now = rt.clock.now()
        if customer.pin_locked_until is not None and customer.pin_locked_until > now:
            seconds = max(1, int((customer.pin_locked_until - now).total_seconds() + 0.999))
            raise PinLocked(retry_after=seconds, locked_until=customer.pin_locked_until)
        if kind in MONEY_OUT:
            identity.assert_withdrawals_allowed(customer, clock=rt.clock)
        if rt.compliance is None:
            return  # no gate wired (development): nothing more to tell before the PIN
        unvalued: LimitRateUnavailable | None = None
        try:  # at the rate quotes use, read now (never the balances screen's cache)
            value = await accounts.limit_value(session, amount, rt.clock)
            rate = None if amount.asset is Asset.KES else await accounts.limit_value(
                session, Money.of(1, amount.asset), rt.clock
            )  # fmt: skip
        except LimitRateUnavailable as exc:  # told after a frozen account's own message
            unvalued = exc
    limits = await rt.compliance.limits(customer_id)
    if limits.frozen:
        raise AccountOnHold("the account is on hold")
    if unvalued is not None:
        raise unvalued  # no fresh rate to value the amount: try again shortly, never a stale value
    # at the top tier nothing raises a limit: the message names the maximum and stops there
    top = "" if limits.next_step else "_top"
    caps: list[tuple[str, Money]] = []
    if kind == "withdraw" and amount.asset.is_crypto:
        if not limits.crypto_withdrawal.is_positive():
            raise CryptoWithdrawalsNotAllowed("crypto withdrawals need a verified ID at this tier")
        caps.append(("amount_over_withdrawal_limit", limits.crypto_withdrawal))
    caps.append(("amount_over_tx_limit", limits.per_transaction))
    caps.append(("amount_over_daily_limit", _left(limits.daily, limits.used_today)))
    caps.append(("amount_over_monthly_limit", _left(limits.monthly, limits.used_this_month)))
    for code, cap in caps:
        if value > cap:
            raise AmountOverLimit(code + top, _in_asset(cap, amount.asset, rate), limits.next_step)


def _left(limit: Money, used: Money) -> Money:
    return limit - used if limit > used else Money.zero(Asset.KES)


def _in_asset(kes: Money, asset: Asset, rate: Money | None) -> Money:
    """A KES cap told in the asset the customer types (rounded down: never more than allowed)."""
    if asset is Asset.KES or rate is None or not rate.is_positive():
        return kes
    return Money.round_down(kes.amount / rate.amount, asset)
