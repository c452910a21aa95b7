"""`kibeti audit verify`: walk the hash chain and report edited, inserted or deleted rows."""

from __future__ import annotations

import sys

import click

from core.audit import service as audit
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime


@click.group(name="audit")
def cli() -> None:
    """The append-only, hash-chained audit log."""


def _head(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("expected SEQ:HASH as printed by an earlier `kibeti audit verify`")
    return int(seq), digest


@cli.command(name="verify")
@click.option(
    "--expect-head", default=None, help="SEQ:HASH recorded earlier, to also detect removed newest rows."
)
def verify_command(expect_head: str | None) -> None:
    """Exit 1 when the chain is broken."""
    expected = _head(expect_head)

    async def work(runtime: Runtime) -> audit.Verification:
        async with runtime.session_factory() as session:
            return await audit.verify(session=session, expected_head=expected)

    result = run_with_runtime(work)
    click.echo(f"{result.checked} audit row(s) checked; head {result.head_seq}:{result.head_hash}")
    for problem in result.problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if not result.ok:
        click.echo(f"{len(result.problems)} problem(s) found: the audit log was altered.", err=True)
        sys.exit(1)
    click.echo("Audit chain intact.")
