"""`kibeti payouts list | reconcile`: the operator's view of M-Pesa payouts (docs/OPERATIONS.md)."""

from __future__ import annotations

import click

from core.money import Asset, Money, format_money
from core.payments import queries as payment_queries
from core.payments.types import PayoutStatus
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime

STATUSES = [status.value for status in PayoutStatus]


@click.group(name="payouts")
def cli() -> None:
    """M-Pesa payouts: list them by state, reconcile the stuck ones now."""


@cli.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only payouts in this state.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def list_payouts(status: str | None, limit: int) -> None:
    """Newest first: id, state, amount, age, what Daraja last said."""

    async def work(runtime: Runtime) -> list[str]:
        async with runtime.session_factory() as session:
            rows = await payment_queries.recent_payouts(session=session, status=status, limit=limit)
        now = runtime.clock.now()
        lines = []
        for row in rows:
            amount = format_money(Money.from_minor(row.amount_minor, Asset.KES), "en")
            # an unknown payout's age is from when it became unknown (status queries move updated_at)
            minutes = int((now - (row.unknown_since or row.updated_at)).total_seconds() // 60)
            said = f"{row.result_code or ''} {row.result_desc or ''}".strip() or "-"
            lines.append(f"{row.id}  {row.status:<9}  {amount:>14}  {minutes:>5} min  {said[:60]}")
        return lines

    lines = run_with_runtime(work)
    if not lines:
        click.echo(f"No payouts{f' in state {status}' if status else ''}.")
        return
    for line in lines:
        click.echo(line)


@cli.command(name="reconcile")
@click.option(
    "--older-than",
    type=click.IntRange(0, 86_400),
    default=0,
    show_default=True,
    help="Only payouts that have not moved for this many seconds (0: every one not final).",
)
def reconcile(older_than: int) -> None:
    """Ask Daraja now (Transaction Status) about every payout not final; resend lost sends.

    The answers arrive as status callbacks and settle each payout (post or void its hold) exactly
    once; nothing is released on an unknown outcome."""
    from payouts.jobs import reconcile_stuck_payouts

    counts = run_with_runtime(lambda _runtime: reconcile_stuck_payouts(float(older_than)))
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    click.echo(f"Reconcile started: {summary}. Watch `kibeti payouts list --status unknown` empty out.")
