"""`kibeti ledger verify` and `kibeti ledger export --format beancount`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.ledger.export import export_beancount
from core.ledger.verify import verify
from core.runtime import Runtime
from webapp.cli._common import progress_printer, run_with_runtime


@click.group(name="ledger")
def cli() -> None:
    """The double-entry ledger."""


@cli.command(name="verify")
def verify_command() -> None:
    """Recompute every balance from postings and prove each asset nets to zero."""

    async def work(runtime: Runtime) -> bool:
        async with runtime.session_factory() as session:
            report = await verify(session=session, progress=progress_printer("accounts checked"))
        click.echo(f"{report.entries_checked} entries, {report.accounts_checked} accounts checked.")
        for asset, net in sorted(report.currency_totals.items()):
            click.echo(f"  {asset}: nets to {net}")
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        click.echo("Books balance." if report.ok else f"{len(report.problems)} problem(s) found.")
        return report.ok

    if not run_with_runtime(work):
        sys.exit(1)


@cli.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["beancount"]), default="beancount", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout)."
)
def export_command(fmt: str, output: Path | None) -> None:
    """Export the ledger for accountants (check it with `bean-check FILE`)."""

    async def work(runtime: Runtime) -> None:
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            async with runtime.session_factory() as session:
                async for line in export_beancount(session=session):
                    stream.write(line)
        finally:
            if output:
                stream.close()
                click.echo(f"Wrote {output}", err=True)

    run_with_runtime(work)
