"""`kibeti worker rq` (RQ worker processes) and `kibeti scheduler` (outbox relay + periodic jobs)."""

from __future__ import annotations

import asyncio
import signal

import click
from redis import Redis

from core.config import get_settings
from webapp.bootstrap import install
from webapp.observability.rq_metrics import MeasuredWorker, serve_metrics
from webapp.scheduler import run_scheduler


@click.group(name="worker")
def cli() -> None:
    """Background workers."""


@cli.command(name="rq")
@click.option(
    "--queues",
    default="default,webhooks",
    show_default=True,
    help="Comma-separated RQ queues (production: one worker service per queue, as docker-compose.yml).",
)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Serve this worker's job durations for Prometheus on this port (0: off).",
)
def rq_worker(queues: str, burst: bool, metrics_port: int) -> None:
    """Run one RQ worker process on the given queues (needs REDIS_URL)."""
    settings = get_settings()
    if not settings.redis_url:
        raise click.UsageError("REDIS_URL is not set; the embedded default runs jobs inside `kibeti serve`")
    install(for_worker=True)
    if metrics_port:
        serve_metrics(metrics_port, multiprocess_dir=settings.prometheus_multiproc_dir)
    connection = Redis.from_url(settings.redis_url)
    MeasuredWorker([q.strip() for q in queues.split(",") if q.strip()], connection=connection).work(
        burst=burst, with_scheduler=True
    )


@click.command(name="scheduler")
def scheduler_cli() -> None:
    """Relay the outbox to the queue and enqueue periodic jobs (run exactly one)."""
    runtime = install(kind="scheduler")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo("Scheduler running; Ctrl-C to stop.", err=True)
        await run_scheduler(runtime, stop=stop)

    asyncio.run(main())
