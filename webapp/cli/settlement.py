"""`kibeti settlement run|list|statement`: settle merchants' balances to M-Pesa (issue 16)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

import click

from core.merchants import service as merchants
from core.money import Asset, Money, format_money
from core.outbox.service import relay
from core.runtime import Runtime
from core.settlements import flows, statement
from core.settlements import settle as settling
from core.settlements.errors import UnknownSettlement
from core.settlements.types import SettlementStatus
from webapp.cli._common import run_with_runtime


@click.group(name="kibeti")
def cli() -> None:
    """Settlement commands (merged into the root group)."""


@cli.group(name="settlement")
def settlement_group() -> None:
    """Merchant settlements to M-Pesa (till, paybill, phone)."""


class SettlementRow(Protocol):
    """What a settlement's line shows (core.settlements' rows have these)."""

    id: int
    merchant_id: int
    amount_minor: int
    method: str
    destination: str
    account_reference: str
    status: str
    receipt: str | None
    failure: str


def _line(row: SettlementRow) -> str:
    amount = format_money(Money.from_minor(row.amount_minor, Asset.KES), "en")
    where = settling.Destination(row.method, row.destination, row.account_reference).label()
    receipt = f" receipt {row.receipt}" if row.receipt else ""
    failure = f" ({row.failure})" if row.failure else ""
    return f"S{row.id} merchant {row.merchant_id}: {amount} to {where}: {row.status}{receipt}{failure}"


async def _wait(rt: Runtime, ids: list[int], seconds: float) -> Sequence[SettlementRow]:
    """Until every settlement is final (or `seconds` pass), relaying the outbox so the payout jobs
    run here too when no scheduler is running (the embedded default's in-process queue)."""
    deadline = time.monotonic() + seconds
    while True:
        await relay(session_factory=rt.session_factory, queue=rt.queue)
        drain = getattr(rt.queue, "drain", None)
        if drain is not None:
            await drain()
        async with rt.session_factory() as session:
            rows = [await settling.get_settlement(session=session, settlement_id=i) for i in ids]
        if all(r.status != SettlementStatus.PAYING.value for r in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.5)


async def _existing_merchant(rt: Runtime, merchant_id: int) -> None:
    """Refuse an unknown merchant id by name (it would otherwise read as "nothing to settle")."""
    async with rt.session_factory() as session:
        await merchants.get_merchant(session=session, merchant_id=merchant_id)


@settlement_group.command(name="run")
@click.option("--merchant", "merchant_id", type=int, default=None, help="Only this merchant.")
@click.option("--daily", is_flag=True, help="Only merchants on the daily schedule (the batch).")
@click.option("--force", is_flag=True, help="Ignore the merchants' minimums (M-Pesa's still applies).")
@click.option(
    "--wait", "wait_s", default=60.0, show_default=True, help="Seconds to wait for M-Pesa's answer."
)
def run(merchant_id: int | None, daily: bool, force: bool, wait_s: float) -> None:
    """Settle every active merchant's balance above its minimum to its till, paybill or phone."""

    async def work(rt: Runtime) -> Sequence[SettlementRow]:
        if merchant_id is not None:
            await _existing_merchant(rt, merchant_id)
        opened = await flows.run_settlements(
            rt, merchant_id=merchant_id, schedule="daily" if daily else None, force=force
        )
        if not opened or wait_s <= 0:
            return opened
        return await _wait(rt, [row.id for row in opened], wait_s)

    rows = run_with_runtime(work)
    if not rows:
        click.echo("Nothing to settle (no balance above a merchant's minimum).")
    for row in rows:
        click.echo(_line(row))


@settlement_group.command(name="list")
@click.argument("merchant_id", type=int)
def list_settlements(merchant_id: int) -> None:
    """A merchant's settlements, newest first."""

    async def work(rt: Runtime) -> Sequence[SettlementRow]:
        await _existing_merchant(rt, merchant_id)
        async with rt.session_factory() as session:
            return await settling.list_settlements(session=session, merchant_id=merchant_id)

    for row in run_with_runtime(work):
        click.echo(_line(row))


@settlement_group.command(name="statement")
@click.argument("settlement_id")
def show_statement(settlement_id: str) -> None:
    """A settlement's statement as CSV (invoices, gross, fee, net, M-Pesa receipt): S12 or 12."""
    digits = settlement_id.removeprefix("S").removeprefix("s")
    if not digits.isdigit():
        raise click.BadParameter(
            f"{settlement_id!r} is not a settlement id: give one such as S12 (see `kibeti settlement list`)",
            param_hint="SETTLEMENT_ID",
        )

    async def work(rt: Runtime) -> str:
        async with rt.session_factory() as session:
            return await statement.statement_csv(session=session, settlement_id=int(digits))

    try:
        click.echo(run_with_runtime(work), nl=False)
    except UnknownSettlement as exc:
        raise click.ClickException(str(exc)) from exc
