"""`kibeti worker payouts` (N real RQ worker processes) and `kibeti mpesa simulator`."""

from __future__ import annotations

import click

from payouts import worker


@click.group(name="kibeti")
def cli() -> None:
    """Payouts commands (merged into the root group)."""


@cli.group(name="worker")
def worker_group() -> None:
    """Background workers."""


@worker_group.command(name="payouts")
@click.option(
    "-n",
    "--count",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="How many worker processes.",
)
@click.option("--queues", default="payouts,default", show_default=True)
@click.option(
    "--simple/--fork",
    default=True,
    show_default=True,
    help="SimpleWorker: jobs in the worker process (default); --fork: a work-horse forked per job.",
)
def payouts_worker(count: int, queues: str, simple: bool) -> None:
    """Run N RQ worker processes on the payouts queues, restarting any that die."""
    names = [q.strip() for q in queues.split(",") if q.strip()]
    click.echo(
        f"Starting {count} payouts worker process(es) on {', '.join(names)}; Ctrl-C to stop.", err=True
    )
    worker.supervise(count, names, setup="webapp.bootstrap.install", simple=simple)


@cli.group(name="mpesa")
def mpesa_group() -> None:
    """M-Pesa (Daraja) tools."""


@mpesa_group.command(name="simulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True)
def simulator(host: str, port: int) -> None:
    """Run the Daraja simulator (OAuth, STK, B2C, status, balance, C2B; control API under /simulator)."""
    from simulators.daraja.simulator import main

    click.echo(f"Daraja simulator (not Safaricom) on http://{host}:{port}", err=True)
    main(["--host", host, "--port", str(port)])
