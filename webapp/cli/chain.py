"""`kibeti worker chain --network erc20|trc20|btc` (deposit monitor) and `kibeti chain ...`
(deposit addresses, simulated deposits for the embedded default)."""

from __future__ import annotations

import asyncio
import secrets
import signal

import click

from core.errors import KibetiError
from core.flows.service import CoreFlows
from core.flows.withdrawals import withdrawal_quote_text
from core.identity import service as identity
from core.identity.phone import normalize_phone
from core.money import Money, format_money, parse_amount
from core.runtime import Runtime
from wallets.adapter import build_monitor, close_source
from wallets.gateway import WalletGateway
from wallets.hd.addresses import validate
from wallets.networks import Network
from wallets.scanning.monitor import StepResult
from webapp.cli._common import run_with_runtime

NETWORKS = click.Choice([n.value for n in Network])


@click.group(name="kibeti")
def cli() -> None:
    """Chain wallet commands (merged into the root group)."""


@cli.group(name="worker")
def worker_group() -> None:
    """Background workers."""


def _progress(result: StepResult) -> None:
    if result.caught_up and not (result.detected or result.credited or result.reorg):
        return
    share = 100 if result.tip == 0 else min(100, result.scanned_to * 100 // max(result.tip, 1))
    click.echo(
        f"height {result.scanned_to}/{result.tip} ({share}%): detected {result.detected}, "
        f"credited {result.credited}, suspense {result.suspense}" + (", REORG" if result.reorg else ""),
        err=True,
    )


@worker_group.command(name="chain")
@click.option("--network", type=NETWORKS, required=True, help="Which chain to watch.")
@click.option(
    "--idle",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between polls at the chain tip.",
)
def chain_worker(network: str, idle: float) -> None:
    """Watch a chain for deposits: scan, follow reorgs, credit after N confirmations."""
    chosen = Network(network)

    async def work(runtime: Runtime) -> None:
        monitor = build_monitor(runtime, chosen, on_progress=_progress)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"Watching {chosen.label} ({type(monitor.source).__name__}); Ctrl-C to stop.", err=True)
        try:
            await monitor.run(stop=stop, idle_seconds=idle)
        finally:
            await close_source(monitor.source)

    run_with_runtime(work, for_worker=True)


@cli.group(name="chain")
def chain_group() -> None:
    """Deposit addresses and the simulated chains of the embedded default."""


@chain_group.command(name="address")
@click.option("--customer", type=int, required=True)
@click.option("--network", type=NETWORKS, required=True)
def address(customer: int, network: str) -> None:
    """Show (allocating once) a customer's deposit address."""

    async def work(runtime: Runtime) -> str:
        from wallets.adapter import deriver_for

        async with runtime.session_factory() as session:  # no address for a customer who does not exist
            await identity.get_customer(session=session, customer_id=customer)
        settings = runtime.settings.wallets
        gateway = WalletGateway(
            session_factory=runtime.session_factory,
            deriver=deriver_for(settings, runtime.settings),
            btc_net=settings.bitcoin_net,
        )
        found = await gateway.deposit_address(
            owner_type="customer", owner_id=customer, asset=Network(network).asset
        )
        return found.address

    click.echo(run_with_runtime(work))


@chain_group.command(name="simulate-deposit")
@click.option("--network", type=NETWORKS, required=True)
@click.option("--to", "to_address", required=True, help="A deposit address (see `kibeti chain address`).")
@click.option("--amount", required=True, help="Amount in the asset, e.g. 25.5")
@click.option(
    "--blocks",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="Also mine this many blocks now.",
)
def simulate_deposit(network: str, to_address: str, amount: str, blocks: int) -> None:
    """Pay an address on the simulated chain (embedded default only)."""
    chosen = Network(network)

    async def work(runtime: Runtime) -> str:
        if runtime.settings.is_production:
            raise click.UsageError("simulated chains do not exist in production")
        from simulators.chain import SimulatedChain, sim_path

        chain = SimulatedChain(chosen, sim_path(runtime.settings.data_dir, chosen))
        try:
            destination = validate(chosen, to_address, btc_net=runtime.settings.wallets.bitcoin_net)
        except KibetiError as exc:
            raise click.BadParameter(str(exc), param_hint="--to") from exc
        txid = chain.pay(destination, _amount(amount, chosen).minor)
        if blocks:
            chain.produce(blocks)
        return txid

    click.echo(run_with_runtime(work))


@chain_group.command(name="fees")
def fees() -> None:
    """Network fees per network: charged to customers on confirmed withdrawals vs what the chains took
    (gain/loss), and the network costs the house bears itself (sweeps, reverted transactions)."""
    from wallets.withdrawals.fee_report import network_fee_report

    async def work(runtime: Runtime) -> bool:
        async with runtime.session_factory() as session:
            lines = await network_fee_report(session=session)
            await session.commit()
        for line in lines:
            click.echo(
                f"{line.network.asset.value}: {line.withdrawals} withdrawal(s), withdrawal fees "
                f"{format_money(line.withdrawal_fees)}, network fees charged {format_money(line.charged)}, "
                f"paid to the chain {format_money(line.paid)}, gain/loss {format_money(line.gain_loss)}"
                f" ({'covered' if line.covered else 'NOT COVERED'}); house network costs "
                f"(sweeps, reverted) {format_money(line.house_costs)}"
            )
        return all(line.covered for line in lines)

    if not run_with_runtime(work):
        raise SystemExit(1)


@chain_group.command(name="mine")
@click.option("--network", type=NETWORKS, required=True)
@click.option("--blocks", default=1, show_default=True, type=click.IntRange(1, 1000))
def mine(network: str, blocks: int) -> None:
    """Mine blocks on a simulated chain (embedded default only)."""
    chosen = Network(network)

    async def work(runtime: Runtime) -> int:
        from simulators.chain import SimulatedChain, sim_path

        return SimulatedChain(chosen, sim_path(runtime.settings.data_dir, chosen)).produce(blocks)

    click.echo(f"height {run_with_runtime(work)}")


def _amount(text: str, network: Network) -> Money:
    try:
        return parse_amount(text, network.asset)
    except KibetiError as exc:
        raise click.BadParameter(str(exc), param_hint="--amount") from exc


@chain_group.command(name="withdraw")
@click.option("--phone", required=True, help="The customer's phone number, e.g. 0700000001.")
@click.option("--network", type=NETWORKS, required=True)
@click.option("--to", "to_address", required=True, help="The destination address on that network.")
@click.option(
    "--amount", required=True, help="What the customer pays, in the asset, e.g. 10 (fees included)."
)
@click.option("--pin", help="Asked (hidden) after the quote when not given.")
@click.option("--yes", is_flag=True, help="Do not ask before sending.")
def withdraw(phone: str, network: str, to_address: str, amount: str, pin: str | None, yes: bool) -> None:
    """Withdraw a customer's crypto to an outside address: quote, confirm, PIN, then the signer sends
    it and the ledger posts it (fees booked) after the network's confirmations. The PIN is asked
    after the arguments are checked and the quote is shown (as USSD asks it), never before."""
    chosen = Network(network)
    paid = _amount(amount, chosen)
    try:
        e164 = normalize_phone(phone)
    except KibetiError as exc:
        raise click.BadParameter(str(exc), param_hint="--phone") from exc

    async def work(runtime: Runtime) -> str:
        flows = CoreFlows(runtime)
        try:
            customer = await flows.find_customer(phone=e164)
            if customer is None:
                raise click.ClickException(
                    f"no customer with phone {phone}: they register by dialling the USSD code"
                )
            quote = await flows.quote_withdraw(customer_id=customer.id, amount=paid, address=to_address)
            click.echo(withdrawal_quote_text(quote, address=to_address, network=chosen.label))
            if not yes and not click.confirm("Send it?", default=False):
                return "Not sent."
            entered = pin if pin is not None else click.prompt("Customer PIN", hide_input=True)
            receipt = await flows.confirm_withdraw(
                customer_id=customer.id, quote_id=quote.id, address=to_address, pin=entered,
                idempotency_key=f"cli-withdraw-{secrets.token_hex(8)}",
            )  # fmt: skip
        except KibetiError as exc:
            raise click.ClickException(f"{exc} [{exc.code}]") from exc
        return (
            f"Withdrawal {receipt.reference} queued: {format_money(receipt.amount)} "
            f"to {receipt.details['address']}. It is posted to the ledger after the network's confirmations."
        )

    click.echo(run_with_runtime(work))
