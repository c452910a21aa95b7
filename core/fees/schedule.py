"""Pure fee rules and the resolved schedule a quote is priced with (no database here).

Percentages are Decimal percent (Decimal("0.5") means 0.5 %). A rule's fixed amount and caps are in
the currency of the amount the rule applies to. A computed fee is rounded *up* to that asset's minor
unit (house-favouring by less than one minor unit), then clamped to the caps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.money import Money

HUNDRED = Decimal(100)


class FeeKind:
    WITHDRAWAL = "withdrawal"  # crypto send/withdrawal, % of the amount sent
    FX_MARGIN = "fx_margin"  # buffer margin built into the rate, per pair and side
    MPESA = "mpesa"  # M-Pesa settlement: fixed + % of the KES paid out
    MERCHANT = "merchant"  # merchant fee, % of the invoice
    NETWORK = "network"  # network fee pass-through, % of the chain fee (100 = pass it all on)
    PESAPAL = "pesapal"  # collection by PesaPal (card, Airtel Money): % + fixed of the KES paid in

    ALL = (WITHDRAWAL, FX_MARGIN, MPESA, MERCHANT, NETWORK, PESAPAL)


@dataclass(frozen=True, slots=True)
class FeeRule:
    percent: Decimal = Decimal(0)
    fixed: Decimal = Decimal(0)
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    rule_id: int | None = None

    def apply(self, base: Money) -> Money:
        """The fee on `base`, in base's asset: fixed + percent, rounded up, within [minimum, maximum]."""
        raw = self.fixed + base.amount * self.percent / HUNDRED
        fee = Money.round_up(raw, base.asset)
        if self.minimum is not None and fee.amount < self.minimum:
            fee = Money.round_up(self.minimum, base.asset)
        if self.maximum is not None and fee.amount > self.maximum:
            fee = Money.round_down(self.maximum, base.asset)
        return fee


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Every fee that applies to one quote context (asset, KYC tier, merchant, moment)."""

    fx_margin_buy: Decimal = Decimal("0.5")
    fx_margin_sell: Decimal = Decimal("0.5")
    withdrawal: FeeRule = FeeRule(percent=Decimal("0.5"))
    mpesa: FeeRule = FeeRule(fixed=Decimal(30))
    merchant: FeeRule = FeeRule(percent=Decimal("1.5"))
    # PesaPal's own charge on a collection (~3.5 % cards and Airtel Money), not M-Pesa's
    pesapal: FeeRule = FeeRule(percent=Decimal("3.5"))
    network_percent: Decimal = HUNDRED
    rule_ids: tuple[int, ...] = field(default=())

    def margin_percent(self, *, buying: bool) -> Decimal:
        return self.fx_margin_buy if buying else self.fx_margin_sell

    def network_fee(self, chain_fee: Money) -> Money:
        """The part of the chain's fee passed on to the customer, rounded up to the asset's unit."""
        return Money.round_up(chain_fee.amount * self.network_percent / HUNDRED, chain_fee.asset)


BLUEPRINT_DEFAULTS = FeeSchedule()
