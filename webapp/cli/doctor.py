"""`kibeti doctor`: the readiness checks of /readyz, for a person at a terminal."""

from __future__ import annotations

import asyncio
import sys

import click

from webapp.bootstrap import install
from webapp.observability.health import readiness


@click.command(name="doctor")
def cli() -> None:
    """Check the database (reachable, migrations at head), Redis and the settings."""
    runtime = install(log_level="WARNING", kind="cli")
    checks = asyncio.run(readiness(runtime))
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        click.echo(f"{mark} {check.name.ljust(width)}  {check.detail}")
    if not all(check.ok for check in checks):
        click.echo("Kibeti is not ready: fix the lines marked FAIL.", err=True)
        sys.exit(1)
    click.echo("Kibeti is ready.")
