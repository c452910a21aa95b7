"""Export the ledger as Beancount for accountants (bean-check accepts it).

Beancount is debit-positive; our postings are credit-positive, so amounts are negated. Each asset
(KES, BTC, USDT-ERC20, USDT-TRC20) is its own commodity: the networks never net against each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ledger.models import Account, JournalEntry, Posting
from core.money import Asset, Money

_KIND_ROOTS = {
    "wallet": "Liabilities:Wallets",
    "custody": "Assets:Custody",
    "mpesa_float": "Assets:MpesaFloat",
    "payouts_in_flight": "Assets:PayoutsInFlight",
    "fee_revenue": "Income:Fees",
    "fx_revenue": "Income:FxMargin",
    "fx_liquidity": "Equity:FxLiquidity",
    "suspense": "Liabilities:Suspense",
    "claims": "Liabilities:Claims",
    "network_fees": "Expenses:NetworkFees",
}


def account_name(account: Account) -> str:
    root = _KIND_ROOTS.get(account.kind, "Equity:Other:" + account.kind.title().replace("_", ""))
    owner = {"customer": "C", "merchant": "M"}.get(account.owner_type, "")
    parts = [root]
    if owner:
        parts.append(f"{owner}{account.owner_id}")
    parts.append(account.asset)
    return ":".join(parts)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "").replace('"', "'") + '"'


async def export_beancount(*, session: AsyncSession) -> AsyncIterator[str]:
    """Yield the ledger as Beancount text, line by line (streams; the ledger may be large)."""
    first = (await session.execute(select(func.min(JournalEntry.created_at)))).scalar_one_or_none()
    opened_on = first.date() if first is not None else date(2026, 1, 1)
    fresh = select(Account).order_by(Account.id).execution_options(populate_existing=True)
    accounts = {a.id: a for a in (await session.execute(fresh)).scalars()}
    yield 'option "title" "Kibeti ledger"\n'
    for asset in Asset:
        yield f"{opened_on.isoformat()} commodity {asset.value}\n"
    for account in accounts.values():
        yield f"{opened_on.isoformat()} open {account_name(account)} {account.asset}\n"
    entries = await session.stream(select(JournalEntry).order_by(JournalEntry.id))
    async for entry in entries.scalars():
        postings = (
            (await session.execute(select(Posting).where(Posting.entry_id == entry.id))).scalars().all()
        )
        yield (
            f"\n{entry.created_at.date().isoformat()} * {_quote(entry.kind)} {_quote(entry.memo)}\n"
            f'  kibeti-entry: "{entry.id}"\n'
        )
        for posting in postings:
            amount = Money.from_minor(-posting.amount, Asset(posting.asset)).amount
            yield f"  {account_name(accounts[posting.account_id])}  {amount:f} {posting.asset}\n"
