"""Prove the books: recompute every balance from postings and check each currency nets to zero."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEntry, AuditPending
from core.ledger.models import Account, Hold, HoldStatus, JournalEntry, Posting
from core.money import Asset, Money


@dataclass
class VerifyReport:
    accounts_checked: int = 0
    entries_checked: int = 0
    currency_totals: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(
    *, session: AsyncSession, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Check every invariant the ledger promises; a list of problems, empty when the books balance.

    - every entry nets to zero per currency, and so does every currency overall;
    - each account's stored balance equals the sum of its postings (up to its rollup point);
    - no constrained account is negative, or below its pending holds;
    - each account's pending_out equals the sum of its pending holds;
    - every entry has its money audit row, in the chain or still queued for it (audit_pending);
    - every posting names an existing account of its own asset.
    """
    report = VerifyReport()
    await _check_entries(session, report)
    await _check_posting_accounts(session, report)
    await _check_audited(session, report)
    accounts = (
        (
            await session.execute(
                select(Account).order_by(Account.id).execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    sums = await _posting_sums(session)
    pending_rows = (
        await session.execute(
            select(Hold.account_id, func.sum(Hold.amount))
            .where(Hold.status == HoldStatus.PENDING.value)
            .group_by(Hold.account_id)
        )
    ).all()
    pending = {int(account_id): int(total) for account_id, total in pending_rows}
    for index, account in enumerate(accounts, start=1):
        _check_account(account, sums, pending, report)
        if progress is not None:
            progress(index, len(accounts))
    report.accounts_checked = len(accounts)
    return report


async def _check_entries(session: AsyncSession, report: VerifyReport) -> None:
    rows = (
        await session.execute(
            select(Posting.entry_id, Posting.asset, func.sum(Posting.amount)).group_by(
                Posting.entry_id, Posting.asset
            )
        )
    ).all()
    per_entry: dict[tuple[int, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for entry_id, asset, total in rows:
        currency = asset  # per asset: USDT on ERC20 and on TRC20 never net against each other
        per_entry[(entry_id, currency)] += int(total)
        totals[currency] += int(total)
    for (entry_id, currency), net in sorted(per_entry.items()):
        if net != 0:
            report.problems.append(f"entry {entry_id} does not net to zero in {currency}: {net}")
    for currency, net in sorted(totals.items()):
        if net != 0:
            report.problems.append(f"{currency} does not net to zero across the ledger: {net}")
    report.currency_totals = dict(totals)
    report.entries_checked = int((await session.execute(select(func.count(JournalEntry.id)))).scalar_one())


async def _check_posting_accounts(session: AsyncSession, report: VerifyReport) -> None:
    """Postings carry no foreign key to their account (ledger_0005): the posting paths check it."""
    rows = (
        await session.execute(
            select(Posting.id, Posting.account_id, Posting.asset, Account.asset)
            .outerjoin(Account, Account.id == Posting.account_id)
            .where((Account.id.is_(None)) | (Account.asset != Posting.asset))
            .order_by(Posting.id)
            .limit(11)
        )
    ).all()
    for posting_id, account_id, asset, held in rows[:10]:
        what = "a missing account" if held is None else f"an account holding {held}"
        report.problems.append(f"posting {posting_id} ({asset}) names {what}: {account_id}")
    if len(rows) > 10:
        report.problems.append("more postings name a missing account or another asset")


async def _check_audited(session: AsyncSession, report: VerifyReport) -> None:
    """Money writes queue their audit row (core.audit.service.record_deferred) in their own
    transaction; a queued row that vanished before the sweeper chained it shows up here."""
    audited: set[str] = set()
    for table in (AuditEntry, AuditPending):
        subjects = select(table.subject).where(table.subject.startswith("ledger_entry:"))
        audited.update((await session.execute(subjects)).scalars())
    entry_ids = (await session.execute(select(JournalEntry.id).order_by(JournalEntry.id))).scalars()
    missing = [entry_id for entry_id in entry_ids if f"ledger_entry:{entry_id}" not in audited]
    if missing:
        shown = ", ".join(str(entry_id) for entry_id in missing[:10])
        report.problems.append(f"{len(missing)} entr(ies) without their audit row: {shown}")


async def _posting_sums(session: AsyncSession) -> dict[int, tuple[int, int]]:
    """account id -> (sum of all postings, sum of postings up to the account's rollup point)."""
    rows = (
        await session.execute(
            select(
                Posting.account_id,
                func.sum(Posting.amount),
                func.sum(Posting.amount).filter(Posting.id <= Account.rolled_up_to),
            )
            .join(Account, Account.id == Posting.account_id)
            .group_by(Posting.account_id)
        )
    ).all()
    return {account_id: (int(total or 0), int(rolled or 0)) for account_id, total, rolled in rows}


def _check_account(
    account: Account, sums: dict[int, tuple[int, int]], pending: dict[int, int], report: VerifyReport
) -> None:
    total, rolled = sums.get(account.id, (0, 0))
    expected = total if account.constrained else rolled
    label = f"account {account.id} ({account.owner_type} {account.owner_id} {account.asset} {account.kind})"
    if account.balance != expected:
        report.problems.append(f"{label}: stored balance {account.balance} != postings {expected}")
    if account.pending_out != pending.get(account.id, 0):
        report.problems.append(
            f"{label}: pending_out {account.pending_out} != pending holds {pending.get(account.id, 0)}"
        )
    if account.constrained and (total < 0 or total < account.pending_out):
        shown = Money.from_minor(total, Asset(account.asset))
        report.problems.append(f"{label}: constrained account below zero or its holds ({shown})")
