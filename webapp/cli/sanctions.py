"""`kibeti sanctions load PATH | status | screen NAME | rescreen`."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import click

from compliance.errors import MalformedListFile
from compliance.sanctions import store
from compliance.sanctions.loader import load_path
from compliance.sanctions.screening import Subject, screen
from compliance.screening_service import rescreen_all
from core.runtime import Runtime
from webapp.cli._common import progress_printer, run_with_runtime


@click.group(name="sanctions")
def cli() -> None:
    """Sanctions lists (OFAC SDN, UN consolidated, OFAC crypto addresses) and screening."""


@cli.command(name="load")
@click.argument("path", type=click.Path(exists=False, path_type=Path))
@click.option(
    "--rescreen/--no-rescreen", default=True, show_default=True, help="Re-screen every customer after."
)
def load_command(path: Path, rescreen: bool) -> None:
    """Parse and validate every list file under PATH, then switch to it atomically.

    A malformed file is rejected with its line numbers and the previous list stays in force."""
    started = time.perf_counter()
    try:
        lists = load_path(path, progress=lambda msg: click.echo(msg, err=True))
    except MalformedListFile as exc:
        click.echo(f"REJECTED: {exc}", err=True)
        click.echo("Nothing was loaded; the previous list stays in force.", err=True)
        sys.exit(2)

    async def work(runtime: Runtime) -> int:
        async with runtime.session_factory() as session, session.begin():
            row = await store.save_version(session=session, lists=lists, loaded_by="cli")
        if rescreen:
            summary = await rescreen_all(
                session_factory=runtime.session_factory,
                lists=lists,
                now=runtime.clock.now(),
                progress=progress_printer("customers re-screened"),
            )
            click.echo(f"Re-screened {summary.screened} customers: {summary.outcomes}")
        return row.id

    version = run_with_runtime(work)
    summary = lists.summary()
    click.echo(
        f"Loaded list version {version} in {time.perf_counter() - started:.1f} s "
        f"(sha256 {lists.checksum[:12]}):"
    )
    for key, value in summary.items():
        click.echo(f"  {key}: {value}")


@cli.command(name="status")
def status_command() -> None:
    """Show the list versions, newest first."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            versions = await store.list_versions(session=session)
        if not versions:
            click.echo("No sanctions list loaded: run `kibeti sanctions load PATH`.")
        for v in versions:
            flag = "ACTIVE" if v.active else "      "
            click.echo(f"{flag} v{v.id} {v.loaded_at:%Y-%m-%d %H:%M} by {v.loaded_by} {v.summary}")

    run_with_runtime(work)


@cli.command(name="screen")
@click.argument("name", default="")
@click.option("--dob", default="", help="Date of birth, YYYY-MM-DD.")
@click.option("--id-number", default="")
@click.option("--address", default="", help="A crypto address.")
@click.option(
    "--nationality", default="", help="A country as the lists write it (Kenya): secondary evidence."
)
def screen_command(name: str, dob: str, id_number: str, address: str, nationality: str) -> None:
    """Screen one name / ID / address against the active list and explain the result."""
    if not (name.strip() or id_number.strip() or address.strip()):
        raise click.UsageError("give a NAME, --id-number or --address to screen")
    try:
        born = date.fromisoformat(dob) if dob else None
    except ValueError:
        raise click.BadParameter(
            f"{dob!r} is not a date: write it as YYYY-MM-DD", param_hint="--dob"
        ) from None

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            lists = await store.active_list(session=session)
        if lists is None:
            raise click.ClickException("no sanctions list loaded: run `kibeti sanctions load PATH`")
        subject = Subject(
            name=name,
            date_of_birth=born,
            id_number=id_number,
            address=address,
            nationality=nationality,
        )
        result = screen(lists, subject)
        click.echo(f"{result.outcome.value.upper()} (score {result.score:.3f}, list v{lists.version})")
        for m in result.matches:
            click.echo(
                f"  {m.outcome.value:6} {m.score:.3f} {m.reason:10} {m.entity_key:14} {m.matched_name}"
            )
            if m.reason.startswith("name"):
                why = "; ".join(m.notes) or "-"
                click.echo(f"         name score {m.name_score:.3f}, evidence {m.evidence:.1f} nats: {why}")

    run_with_runtime(work)


@cli.command(name="rescreen")
def rescreen_command() -> None:
    """Re-screen every customer against the active list."""

    async def work(runtime: Runtime) -> None:
        async with runtime.session_factory() as session:
            lists = await store.active_list(session=session)
        if lists is None:
            raise click.ClickException("no sanctions list loaded: run `kibeti sanctions load PATH`")
        summary = await rescreen_all(
            session_factory=runtime.session_factory,
            lists=lists,
            now=runtime.clock.now(),
            progress=progress_printer("customers re-screened"),
        )
        click.echo(f"Re-screened {summary.screened} customers: {summary.outcomes}")

    run_with_runtime(work)
