"""`kibeti pesapal register-ipn | orders | confirm | reconcile`: the PesaPal rail from the shell."""

from __future__ import annotations

import click

from core.money import Asset, Money, format_money
from core.rails import jobs as rail_jobs
from core.rails import queries as rail_queries
from core.runtime import Runtime
from payouts.pesapal import adapter
from webapp.cli._common import run_with_runtime


@click.group(name="kibeti")
def cli() -> None:
    """PesaPal commands (merged into the root group)."""


@cli.group(name="pesapal")
def pesapal_group() -> None:
    """PesaPal API 3.0 (cards, Airtel Money) tools."""


@pesapal_group.command(name="register-ipn")
def register_ipn() -> None:
    """Find our IPN URL at PesaPal (GetIpnList), registering it (RegisterIPN) if missing; print its id.
    The web app does the same at start-up. Needs the running app for the built-in simulator."""

    async def work(rt: Runtime) -> tuple[str, str]:
        async with adapter.pesapal(rt) as client:
            ipn_id = await adapter.register_ipn(rt, client)
        return adapter.public_url(rt.settings, adapter.IPN_PATH), ipn_id

    url, ipn_id = run_with_runtime(work)
    click.echo(f"IPN URL {url} registered: notification_id {ipn_id}")


@pesapal_group.command(name="orders")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def orders(limit: int) -> None:
    """The newest PesaPal orders: status, amount, reference and tracking id."""

    async def work(rt: Runtime) -> list[str]:
        async with rt.session_factory() as session:
            rows = await rail_queries.newest_orders(session=session, limit=limit)
        return [
            f"#{row.id} {row.status:<10} {format_money(Money.from_minor(row.amount_minor, Asset.KES)):>14} "
            f"{row.merchant_reference} {row.tracking_id or '-'} {row.flag_reason}"
            for row in rows
        ]

    for line in run_with_runtime(work):
        click.echo(line)


@pesapal_group.command(name="confirm")
@click.argument("order_id", type=int)
def confirm(order_id: int) -> None:
    """Ask PesaPal for one order's status now (GetTransactionStatus) and apply it."""
    outcome = run_with_runtime(lambda rt: rail_jobs.confirm_order(order_id))
    click.echo(f"order {order_id}: {outcome}")


@pesapal_group.command(name="reconcile")
def reconcile() -> None:
    """Stage a status query (or a submit) for every order left open, as the scheduler does."""
    staged = run_with_runtime(lambda rt: rail_jobs.reconcile_rail_orders())
    click.echo(f"{staged} open order(s) staged for another look")
