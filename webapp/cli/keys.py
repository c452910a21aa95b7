"""`kibeti keys rotate`: re-seal every secret envelope under the current MASTER_PASSPHRASE;
`kibeti keys xpubs`: the watch-only account keys of the sealed wallet seed, for the API processes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from core.auth import service as staff_service
from core.config import Settings, get_settings
from core.runtime import Runtime
from core.security import envelope
from core.security import service as secrets_service
from core.security.errors import EnvelopeError
from core.security.keyring import keyring_from_settings
from core.webhooks import service as webhooks
from webapp.cli._common import run_with_runtime


def _compliance_envelope_columns() -> list[tuple[type[Any], str, Callable[[Any], str]]]:
    """Envelopes compliance keeps in its own tables: (model, column, context the row was sealed with)."""
    columns: list[tuple[type[Any], str, Callable[[Any], str]]] = []
    try:
        from compliance.models import KycDocument
    except ImportError:  # pragma: no cover - package absent
        return columns
    columns.append((KycDocument, "sealed", lambda doc: f"kyc:{doc.customer_id}:{doc.kind}"))
    return columns


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
            hooks = await webhooks.rotate_secret_envelopes(session=session, keyring=keyring)
            for column, count in hooks.items():
                click.echo(f"Re-sealed {count} {column} envelope(s).")
            for model, attribute, context_of in _compliance_envelope_columns():
                others = await secrets_service.rotate_envelopes(
                    session=session, model=model, attribute=attribute, context_of=context_of, keyring=keyring
                )
                click.echo(f"Re-sealed {others} {model.__tablename__}.{attribute} envelope(s).")
            await session.commit()
        return secrets, totp

    try:
        secrets, totp = run_with_runtime(work)
    except EnvelopeError as exc:
        raise click.ClickException(
            f"{exc}: pass the passphrase it was sealed with as --old-passphrase (or OLD_MASTER_PASSPHRASE)"
        ) from exc
    click.echo(f"Re-sealed {secrets} stored secret(s) and {totp} staff TOTP secret(s) under the current key.")


@cli.command(name="reseal")
@click.option("--context", required=True, help='The context it was sealed with, e.g. "wallets:hd-seed:v1".')
@click.option("--old-passphrase", "old_passphrases", multiple=True, envvar="OLD_MASTER_PASSPHRASE")
def reseal_command(context: str, old_passphrases: tuple[str, ...]) -> None:
    """Re-seal one envelope kept outside the database (e.g. WALLET_SEED_SEALED): stdin in, stdout out."""
    sealed = sys.stdin.read().strip()
    keyring = keyring_from_settings(get_settings(), previous=old_passphrases)
    try:
        click.echo(envelope.rotate(sealed, keyring=keyring, context=context))
    except EnvelopeError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command(name="xpubs")
def xpubs_command() -> None:
    """Print the account keys of WALLET_SEED_SEALED as the settings the API processes take
    (BTC_ACCOUNT_XPUB is the zpub on mainnet, the vpub on BITCOIN_NET=testnet or regtest)."""
    from wallets.errors import WalletNotConfigured
    from wallets.hd.custody import open_seed
    from wallets.hd.derivation import check_account_key
    from wallets.networks import account_key_settings

    core = Settings()  # this command's own reading of the environment (not the process's cached one)
    settings = core.wallets
    if not settings.wallet_seed_sealed:
        raise click.UsageError("WALLET_SEED_SEALED is not set: run this where the signer's settings are")
    try:
        seed = open_seed(
            settings.wallet_seed_sealed,
            keyring=keyring_from_settings(core),
            btc_net=settings.bitcoin_net,
        )
        for network, name in account_key_settings().items():
            key = check_account_key(
                seed.account_xpub(network), network, btc_net=settings.bitcoin_net, setting=name
            )
            click.echo(f"{name}={key}")
    except (EnvelopeError, WalletNotConfigured) as exc:
        raise click.ClickException(str(exc)) from exc
