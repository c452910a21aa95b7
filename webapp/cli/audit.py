"""`kibeti audit verify | checkpoint | rekey | harden | public-key`: the keyed, hash-chained audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.audit import checkpoints, hardening
from core.audit import service as audit
from core.audit.keys import AuditKeys, current_keys
from core.errors import KibetiError
from core.runtime import Runtime
from core.security.keyring import keyring_from_settings
from webapp.cli._common import run_with_runtime

OLD_PASSPHRASE = click.option(
    "--old-passphrase",
    "old_passphrases",
    multiple=True,
    envvar="OLD_MASTER_PASSPHRASE",
    help="A previous master passphrase, for rows sealed before a key rotation (repeatable).",
)


@click.group(name="audit")
def cli() -> None:
    """The append-only, keyed hash-chained audit log."""


def _head(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter(
            f"{value!r}: give SEQ:HASH as printed by an earlier `kibeti audit verify`",
            param_hint="--expect-head",
        )
    return int(seq), digest


def _keys(runtime: Runtime, old_passphrases: tuple[str, ...]) -> AuditKeys:
    if not old_passphrases:
        return current_keys()
    return AuditKeys(keyring_from_settings(runtime.settings, previous=old_passphrases))


@cli.command(name="verify")
@click.option(
    "--expect-head", default=None, help="SEQ:HASH recorded earlier, to also detect removed newest rows."
)
@click.option(
    "--checkpoints",
    "checkpoint_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A file of signed checkpoints (as published; a shipped copy is best) to check the chain against.",
)
@OLD_PASSPHRASE
def verify_command(
    expect_head: str | None, checkpoint_file: Path | None, old_passphrases: tuple[str, ...]
) -> None:
    """Exit 1 when the chain is broken or disagrees with a published checkpoint."""
    expected = _head(expect_head)
    published: list[checkpoints.Checkpoint] = []
    unreadable: list[str] = []
    if checkpoint_file is not None:
        try:
            lines = checkpoint_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise click.ClickException(f"cannot read {checkpoint_file}: {exc.strerror}") from exc
        published, unreadable = checkpoints.read(lines)

    async def work(runtime: Runtime) -> tuple[audit.Verification, list[str]]:
        keys = _keys(runtime, old_passphrases)
        async with runtime.session_factory() as session:
            result = await audit.verify(session=session, expected_head=expected, keys=keys)
            against = await checkpoints.verify(session=session, checkpoints=published, keys=keys)
        return result, against

    result, against = run_with_runtime(work)
    problems = [*result.problems, *unreadable, *against]
    click.echo(f"{result.checked} audit row(s) checked; head {result.head_seq}:{result.head_hash}")
    if checkpoint_file is not None:
        click.echo(f"{len(published)} checkpoint(s) compared")
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found: the audit log was altered.", err=True)
        sys.exit(1)
    click.echo("Audit chain intact.")


@cli.command(name="checkpoint")
def checkpoint_command() -> None:
    """Sign the chain's head now and publish it (log + AUDIT_CHECKPOINT_PATH); the scheduler does
    this hourly."""

    async def work(runtime: Runtime) -> tuple[checkpoints.Checkpoint, Path]:
        async with runtime.session_factory() as session:
            made = await checkpoints.create(session=session, now=runtime.clock.now())
        checkpoints.publish(made, runtime.settings.audit_checkpoint_file)
        return made, runtime.settings.audit_checkpoint_file

    made, path = run_with_runtime(work)
    click.echo(made.to_line())
    click.echo(f"appended to {path}", err=True)


@cli.command(name="rekey")
@OLD_PASSPHRASE
def rekey_command(old_passphrases: tuple[str, ...]) -> None:
    """Re-seal unkeyed rows (and rows under a rotated-out key) under the current key, after checking
    the chain is intact. Run as the table owner (DATABASE_URL of the migration role); it publishes a
    fresh checkpoint: checkpoints from before the rekey no longer match and are superseded."""

    async def work(runtime: Runtime) -> tuple[audit.Rekeyed, checkpoints.Checkpoint]:
        keys = _keys(runtime, old_passphrases)
        async with runtime.session_factory() as session:
            done = await audit.rekey(session=session, keys=keys)
            if done.rows == 0:  # nothing to re-seal: no row, no new checkpoint needed
                made = await checkpoints.create(session=session, now=runtime.clock.now(), keys=keys)
                return done, made
            await audit.record(
                session=session, actor="system", action="audit.rekeyed", subject="audit_log",
                details={"rows": done.rows, "old_head": f"{done.old_head[0]}:{done.old_head[1]}",
                         "key_id": keys.current},
                clock=runtime.clock,
            )  # fmt: skip
            await session.commit()
            made = await checkpoints.create(session=session, now=runtime.clock.now(), keys=keys)
        checkpoints.publish(made, runtime.settings.audit_checkpoint_file)
        return done, made

    try:
        done, made = run_with_runtime(work)
    except KibetiError as exc:
        raise click.ClickException(str(exc)) from exc
    if done.rows == 0:
        click.echo(f"Every row is already under the current key; head {made.seq}:{made.head}")
        return
    click.echo(f"{done.rows} row(s) re-sealed; head was {done.old_head[0]}:{done.old_head[1]}")
    click.echo(f"new checkpoint: {made.to_line()}")


@cli.command(name="harden")
@click.option("--app-role", required=True, help="The PostgreSQL role the application connects as.")
def harden_command(app_role: str) -> None:
    """As the table owner: leave APP_ROLE only SELECT and INSERT on audit_log."""

    async def work(runtime: Runtime) -> list[str]:
        engine = runtime.session_factory.kw["bind"]
        async with engine.begin() as connection:
            return await hardening.harden(connection, app_role=app_role)

    try:
        done = run_with_runtime(work)
    except KibetiError as exc:
        raise click.ClickException(str(exc)) from exc
    for statement in done:
        click.echo(statement)


@cli.command(name="public-key")
def public_key_command() -> None:
    """The Ed25519 public key that checks checkpoints (give it to whoever keeps the shipped copies)."""

    async def work(runtime: Runtime) -> tuple[str, str]:
        keys = current_keys()
        return keys.current, keys.public_key_hex(keys.current)

    kid, public = run_with_runtime(work)
    click.echo(f"{kid} {public}")
