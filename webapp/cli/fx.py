"""`kibeti fx refresh | rates | alerts`: FX rates from the configured sources (demo rates by default)."""

from __future__ import annotations

import sys

import click

from core.fx import jobs as fx_jobs
from core.fx import service as fx_service
from core.fx.errors import RatesUnavailable
from core.fx.policy import FxPolicy
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime


@click.group(name="fx")
def cli() -> None:
    """FX rates: refresh, show, alerts."""


@cli.command(name="refresh")
def refresh_command() -> None:
    """Fetch rates from every configured source now and store them."""

    async def work(runtime: Runtime) -> bool:
        click.echo("sources: " + ", ".join(source.name for source in runtime.rate_sources))
        result = await fx_jobs.refresh_with_runtime()
        for name, error in sorted(result.errors.items()):
            click.echo(f"  FAILED {name}: {error}", err=True)
        for rate in result.rates:
            label = "  [DEMO]" if rate.is_demo else ""
            spread = "" if rate.bid == rate.ask else f" (bid {rate.bid:f} / ask {rate.ask:f})"
            click.echo(f"  {rate.pair:<9} {rate.mid:f}{spread}  source={rate.source}{label}")
        if result.alerts:
            click.echo(f"  {len(result.alerts)} disagreement alert(s) raised for staff", err=True)
        click.echo(f"{result.fetched} rates fetched, {len(result.rates)} stored as current.")
        return bool(result.rates)

    if not run_with_runtime(work):
        sys.exit(1)


@cli.command(name="rates")
def rates_command() -> None:
    """Show the current rate of every pair, or why there is none."""

    async def work(runtime: Runtime) -> None:
        policy = FxPolicy.from_settings(runtime.settings)
        async with runtime.session_factory() as session:
            for base, quote in fx_service.QUOTED_PAIRS:
                try:
                    rate = await fx_service.latest_rate(
                        session=session, base=base, quote=quote, clock=runtime.clock, max_age=policy.max_age
                    )
                except RatesUnavailable as exc:
                    click.echo(f"  {base}/{quote:<5} unavailable: {exc}")
                    continue
                label = "  [DEMO]" if rate.is_demo else ""
                click.echo(f"  {rate.pair:<9} bid {rate.bid:f} ask {rate.ask:f}  {rate.as_of:%H:%M:%S}"
                           f"  source={rate.source}{label}")  # fmt: skip

    run_with_runtime(work)


@cli.command(name="alerts")
def alerts_command() -> None:
    """Open alerts: sources that disagreed beyond tolerance."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            for alert in await fx_service.open_alerts(session=session):
                click.echo(f"  #{alert.id} {alert.created_at:%Y-%m-%d %H:%M:%S} {alert.pair} {alert.details}")

    run_with_runtime(work)
