"""`kibeti invoice create|show|simulate-pay`: merchant invoices from a terminal; `simulate-pay` pays an
invoice's address on the embedded default's simulated chain and lets the deposit scanner see it."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

import click

from core.errors import KibetiError
from core.invoices import service as invoices
from core.invoices.errors import InvoiceNotPayable
from core.money import Asset, Money, format_money
from core.runtime import Runtime
from wallets.networks import Network
from webapp.cli._common import run_with_runtime

NETWORKS = click.Choice([n.value for n in Network])


@click.group(name="invoice")
def cli() -> None:
    """Merchant invoices in KES (or USD), paid in BTC, USDT-ERC20, USDT-TRC20 or by M-Pesa."""


def _print(view: invoices.InvoiceView) -> None:
    row = view.invoice
    amount = f"{row.currency} {Decimal(row.amount_minor) / 100:,.2f}"
    extra = "" if row.additional_status == "none" else f" ({row.additional_status})"
    click.echo(f"Invoice {row.public_id} for {view.merchant_name}: {amount} - {row.status}{extra}")
    click.echo(f"  checkout /i/{row.public_id}; expires {row.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    if row.needs_review:
        click.echo("  flagged for staff review (late or wrong-asset money)")
    for method in view.methods:
        where = method.address or "M-Pesa (STK push from the checkout page)"
        demo = " [DEMO address - do not send real funds]" if method.demo else ""
        click.echo(
            f"  {method.asset.value:<10} due {format_money(method.due)}, paid {format_money(method.paid)}, "
            f"left {format_money(method.remaining)} -> {where}{demo}"
        )
    for payment in view.payments:
        late = " late" if payment.late else ""
        reason = f" ({payment.reason})" if payment.reason else ""
        ref = payment.reference[:24]
        click.echo(f"  payment {format_money(payment.amount)} {payment.status}{late}{reason} [{ref}]")


@cli.command(name="create")
@click.option("--merchant", "merchant_id", type=int, required=True, help="The merchant's id.")
@click.option("--amount", required=True, help="e.g. 2500 or 2500.50")
@click.option("--currency", type=click.Choice(["KES", "USD"]), default="KES", show_default=True)
@click.option("--network", "networks", multiple=True, type=NETWORKS, help="Accept only these (default: all).")
@click.option("--order-id", default="")
@click.option("--description", default="")
def create_command(
    merchant_id: int, amount: str, currency: str, networks: tuple[str, ...], order_id: str, description: str
) -> None:
    """Create an invoice for a merchant (rate locked until it expires)."""

    async def work(runtime: Runtime) -> invoices.InvoiceView:
        if runtime.chains is None:
            raise click.ClickException("no chain gateway is configured")
        async with runtime.session_factory() as session, session.begin():
            return await invoices.create_invoice_view(
                session=session,
                merchant_id=merchant_id,
                request=invoices.NewInvoice(
                    amount=amount,
                    currency=currency,
                    networks=[Network(n).asset.value for n in networks] or None,
                    order_id=order_id,
                    description=description,
                ),
                clock=runtime.clock,
                chains=runtime.chains,
                key_id="cli",
            )

    _print(run_with_runtime(work))


@cli.command(name="show")
@click.argument("invoice_id")
def show_command(invoice_id: str) -> None:
    """Show an invoice: status, amounts and addresses per network, payments."""

    async def work(runtime: Runtime) -> invoices.InvoiceView:
        async with runtime.session_factory() as session, session.begin():
            return await invoices.get_invoice(session=session, invoice_id=invoice_id, clock=runtime.clock)

    _print(run_with_runtime(work))


def _pay_amount(view: invoices.InvoiceView, asset: Asset, amount: str | None, fraction: str | None) -> Money:
    method = view.method(asset)
    if method is None:
        raise InvoiceNotPayable(f"invoice {view.public_id} does not accept {asset.value}")
    if amount is not None:
        try:
            value = Money.of(Decimal(amount), asset)
        except (InvalidOperation, KibetiError, ValueError) as exc:
            raise click.BadParameter(
                f"{amount!r} is not an amount of {asset.value}", param_hint="--amount"
            ) from exc
        if value.minor <= 0:
            raise click.BadParameter(f"pay more than zero {asset.value}, e.g. 0.5", param_hint="--amount")
    elif fraction is not None:
        try:
            part = Decimal(fraction)
        except InvalidOperation as exc:
            raise click.BadParameter("a fraction such as 0.5", param_hint="--fraction") from exc
        if not 0 < part <= 10:
            raise click.BadParameter("a fraction above 0 (and at most 10)", param_hint="--fraction")
        value = Money.from_minor(math.ceil(method.due.minor * part), asset)
    else:
        value = method.remaining
    if value.minor <= 0:
        raise InvoiceNotPayable(
            f"nothing left to pay on invoice {view.public_id}; pass --amount to pay anyway"
        )
    return value


@cli.command(name="simulate-pay")
@click.argument("invoice_id")
@click.option("--network", type=NETWORKS, required=True, help="Which chain pays.")
@click.option("--amount", default=None, help="In the network's asset (default: what is left to pay).")
@click.option("--fraction", default=None, help="Of the invoice, e.g. 0.5 for half.")
@click.option(
    "--blocks", default=1, show_default=True, type=click.IntRange(1, 1000), help="Blocks to mine now."
)
@click.option("--confirm", is_flag=True, help="Mine enough blocks to confirm it (3 BTC / 3 ERC20 / 20 TRON).")
@click.option("--late", "allow_late", is_flag=True, help="Pay even though the invoice has expired.")
def simulate_pay_command(
    invoice_id: str,
    network: str,
    amount: str | None,
    fraction: str | None,
    blocks: int,
    confirm: bool,
    allow_late: bool,
) -> None:
    """Pay an invoice on the simulated chain (embedded default only); the scanner picks it up."""
    chosen = Network(network)

    async def work(runtime: Runtime) -> invoices.InvoiceView:
        if runtime.settings.is_production:
            raise click.UsageError("simulated chains do not exist in production")
        from simulators.chain import SimulatedChain, sim_path

        async with runtime.session_factory() as session, session.begin():
            view = await invoices.get_invoice(session=session, invoice_id=invoice_id, clock=runtime.clock)
        payable = view.status == "new" or (allow_late and view.status == "expired")
        if not payable:
            hint = " (pass --late to pay it anyway)" if view.status == "expired" else ""
            raise InvoiceNotPayable(
                f"invoice {view.public_id} is {view.status}: it takes no new payment{hint}"
            )
        value = _pay_amount(view, chosen.asset, amount, fraction)
        method = view.method(chosen.asset)
        assert method is not None  # _pay_amount checked
        chain = SimulatedChain(chosen, sim_path(runtime.settings.data_dir, chosen))
        txid = chain.pay(method.address, value.minor)
        needed = runtime.settings.wallets.confirmations(chosen)
        await _mine_and_scan(runtime, chosen, max(blocks, needed) if confirm else blocks)
        click.echo(
            f"Paid {format_money(value)} to {method.address} on the simulated chain (tx {txid[:16]}...)."
        )
        async with runtime.session_factory() as session, session.begin():
            return await invoices.get_invoice(session=session, invoice_id=invoice_id, clock=runtime.clock)

    _print(run_with_runtime(work))


async def _mine_and_scan(runtime: Runtime, network: Network, blocks: int) -> None:
    """Mine `blocks` on the simulated chain, then run the deposit scanner until it is caught up."""
    from simulators.chain import SimulatedChain, sim_path
    from wallets.adapter import build_monitor

    SimulatedChain(network, sim_path(runtime.settings.data_dir, network)).produce(blocks)
    monitor = build_monitor(runtime, network)
    while not (await monitor.step()).caught_up:
        pass


@cli.command(name="mine")
@click.argument("invoice_id")
@click.option("--network", type=NETWORKS, required=True)
@click.option("--blocks", default=1, show_default=True, type=click.IntRange(1, 1000))
def mine_command(invoice_id: str, network: str, blocks: int) -> None:
    """Mine blocks on a simulated chain, let the scanner confirm, show the invoice (embedded only)."""

    async def work(runtime: Runtime) -> invoices.InvoiceView:
        if runtime.settings.is_production:
            raise click.UsageError("simulated chains do not exist in production")
        await _mine_and_scan(runtime, Network(network), blocks)
        async with runtime.session_factory() as session, session.begin():
            return await invoices.get_invoice(session=session, invoice_id=invoice_id, clock=runtime.clock)

    _print(run_with_runtime(work))
