"""`kibeti keys rotate`: re-seal every secret envelope under the current MASTER_PASSPHRASE."""

from __future__ import annotations

import click

from core.auth import service as staff_service
from core.runtime import Runtime
from core.security import service as secrets_service
from core.security.errors import EnvelopeError
from core.security.keyring import keyring_from_settings
from webapp.cli._common import run_with_runtime


@click.group(name="keys")
def cli() -> None:
    """Key custody: envelopes sealed with a key derived from MASTER_PASSPHRASE."""


@cli.command(name="rotate")
@click.option(
    "--old-passphrase",
    "old_passphrases",
    multiple=True,
    envvar="OLD_MASTER_PASSPHRASE",
    help="A previous master passphrase (repeatable; or OLD_MASTER_PASSPHRASE). Omit to re-seal only.",
)
def rotate_command(old_passphrases: tuple[str, ...]) -> None:
    """Set MASTER_PASSPHRASE to the new passphrase, pass the old one, and run this once."""

    async def work(runtime: Runtime) -> tuple[int, int]:
        keyring = keyring_from_settings(runtime.settings, previous=old_passphrases)
        async with runtime.session_factory() as session:
            secrets = await secrets_service.rotate_all(session=session, keyring=keyring)
            totp = await staff_service.rotate_totp_secrets(session=session, keyring=keyring)
            await session.commit()
        return secrets, totp

    try:
        secrets, totp = run_with_runtime(work)
    except EnvelopeError as exc:
        raise click.ClickException(
            f"{exc}: pass the passphrase it was sealed with as --old-passphrase (or OLD_MASTER_PASSPHRASE)"
        ) from exc
    click.echo(f"Re-sealed {secrets} stored secret(s) and {totp} staff TOTP secret(s) under the current key.")
