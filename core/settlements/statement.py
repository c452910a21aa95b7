"""A settlement's statement as CSV: one line per payment it covers (reference, payer, what was paid,
gross, fee, refunds, net), then the totals, then what the settlement did not pay of that net (M-Pesa
pays whole shillings: the cents stay in the balance and go with the next settlement, line
`kept_for_next_settlement`) or paid from earlier settlements' kept cents (`from_earlier_settlements`),
then what M-Pesa paid: the line is the settlement's status (`paid`, `paying`, `failed`), its
reference the M-Pesa receipt and its source where it went."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settlements import settle as settling
from core.settlements.models import MerchantCredit, Settlement
from core.settlements.types import SettlementStatus

HEADER = [
    "settlement", "line", "reference", "source", "paid_at", "payer", "paid", "paid_asset", "gross_kes",
    "fee_kes", "refunded_kes", "net_kes",
]  # fmt: skip


KEPT = "kept_for_next_settlement"  # the cents M-Pesa cannot pay (and what is over its per-payment cap)
FROM_EARLIER = "from_earlier_settlements"  # earlier settlements' kept cents, paid with this one


@dataclass(frozen=True)
class Carried:
    """What a settlement paid of earlier settlements' kept cents, and what it kept for the next."""

    from_earlier: int
    kept: int


async def carried(*, session: AsyncSession, settlement: Settlement) -> Carried:
    """Both from the merchant's earlier settlements (a failed one paid nothing and covers nothing:
    its credits went back): what their payments' net had beyond what they sent is still there."""
    if settlement.status == SettlementStatus.FAILED.value:  # all of it is back on the balance
        return Carried(0, 0)
    earlier = select(Settlement.id).where(
        Settlement.merchant_id == settlement.merchant_id,
        Settlement.id < settlement.id,
        Settlement.status != SettlementStatus.FAILED.value,
    )
    net = func.coalesce(func.sum(MerchantCredit.net_minor - MerchantCredit.refunded_minor), 0)
    credited = (
        await session.execute(select(net).where(MerchantCredit.settlement_id.in_(earlier)))
    ).scalar_one()
    sent = (
        await session.execute(
            select(func.coalesce(func.sum(Settlement.amount_minor), 0)).where(Settlement.id.in_(earlier))
        )
    ).scalar_one()
    own = (
        await session.execute(select(net).where(MerchantCredit.settlement_id == settlement.id))
    ).scalar_one()
    from_earlier = int(credited) - int(sent)
    return Carried(from_earlier, from_earlier + int(own) - settlement.amount_minor)


def _kes(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _units(minor: int, asset: str) -> str:
    scale = {"KES": 2, "BTC": 8}.get(asset, 6)
    whole, frac = divmod(abs(minor), 10**scale)
    return f"{'-' if minor < 0 else ''}{whole}.{frac:0{scale}d}"


async def statement_csv(*, session: AsyncSession, settlement_id: int, merchant_id: int | None = None) -> str:
    """The CSV text; UnknownSettlement if it is not this merchant's."""
    row = await settling.get_settlement(session=session, settlement_id=settlement_id, merchant_id=merchant_id)
    lines = await settling.credits_of(session=session, settlement_id=row.id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    ref = f"S{row.id}"
    for number, credit in enumerate(lines, start=1):
        net = credit.net_minor - credit.refunded_minor
        writer.writerow([
            ref, number, credit.reference, credit.source, credit.created_at.isoformat(), credit.payer,
            _units(credit.paid_minor, credit.paid_asset), credit.paid_asset, _kes(credit.gross_minor),
            _kes(credit.fee_minor), _kes(credit.refunded_minor), _kes(net),
        ])  # fmt: skip
    gross = sum(c.gross_minor for c in lines)
    fees = sum(c.fee_minor for c in lines)
    refunds = sum(c.refunded_minor for c in lines)
    net = gross - fees - refunds
    writer.writerow([ref, "total", "", "", "", "", "", "", _kes(gross), _kes(fees), _kes(refunds),
                     _kes(net)])  # fmt: skip
    carry = await carried(session=session, settlement=row)
    for line, minor in ((FROM_EARLIER, carry.from_earlier), (KEPT, carry.kept)):
        if minor:  # net + from_earlier - kept == what M-Pesa was sent
            writer.writerow([ref, line, "", "", "", "", "", "", "", "", "", _kes(minor)])
    where = settling.Destination(row.method, row.destination, row.account_reference).label()
    at = (row.finished_at or row.created_at).isoformat()
    writer.writerow([ref, row.status, row.receipt or "", where, at, "", "", "", "", "", "",
                     _kes(row.amount_minor)])  # fmt: skip
    return out.getvalue()
