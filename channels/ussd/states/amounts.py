"""Amount steps shared by the money paths (issue 19): parse with a format hint, and the limits told
before the PIN (the flows name the most allowed; the session stays open to try another amount)."""

from __future__ import annotations

from channels.ussd.engine import Ctx
from channels.ussd.states.common import Explained
from core.errors import InvalidAmount
from core.flows.errors import AmountOverLimit
from core.i18n.catalog import has
from core.money import Asset, Money, parse_amount

KES_FORMAT = "amount_format_kes_any"  # "like 500 or 100.50": what parse_amount takes
KES_WHOLE = "amount_format_kes_whole"  # where M-Pesa moves the amount: whole shillings only


def format_error(asset: Asset) -> str:
    """The hint for an amount not understood: KES takes cents and commas ("500", "100.50", "1,000")."""
    return KES_FORMAT if asset is Asset.KES else "amount_format_crypto"


def parse(value: str, asset: Asset) -> Money | None:
    """The amount typed, or None when it is not one (the caller shows `format_error`)."""
    try:
        return parse_amount(value, asset)
    except InvalidAmount:
        return None


async def check(ctx: Ctx, kind: str, amount: Money) -> None:
    """Raise what would refuse `amount` at the PIN: a limit (with its maximum), a PIN lock, the
    cool-down after a PIN reset, a tier without crypto withdrawals."""
    try:
        await ctx.flows.check_amount(customer_id=ctx.customer_id, kind=kind, amount=amount)
    except AmountOverLimit as exc:  # say how to raise it, as the KYC screen does ("Next: ...")
        step = f"ussd.kyc.next.{exc.next_step}"
        how = " " + ctx.t(step) if exc.next_step and has(step) else ""
        raise Explained(exc.code, max=exc.values["max"], how=how) from exc
