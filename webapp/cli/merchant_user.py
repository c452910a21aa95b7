"""`kibeti merchant-user add --merchant ID --email --role owner|viewer`: invite someone to the merchant
dashboard (/merchant); prints their first password and the TOTP URI once."""

from __future__ import annotations

import click

from core.errors import KibetiError
from core.merchant_users import service as users
from core.merchant_users.types import MerchantRole
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime
from webapp.deps_auth import get_keyring


@click.group(name="merchant-user")
def cli() -> None:
    """People who sign in to a merchant's dashboard."""


@cli.command(name="add")
@click.option(
    "--merchant", "merchant_id", required=True, type=click.IntRange(min=1), help="The merchant's id."
)
@click.option("--email", required=True, help="Their sign-in email address.")
@click.option(
    "--role", default="owner", show_default=True, type=click.Choice([r.value for r in MerchantRole])
)
def add_command(merchant_id: int, email: str, role: str) -> None:
    """Invite a dashboard user and print their first password and TOTP URI (shown once)."""

    async def work(runtime: Runtime) -> users.Invitation:
        async with runtime.session_factory() as session:
            invitation = await users.invite(
                session=session, merchant_id=merchant_id, email=email, role=role,
                keyring=get_keyring(runtime), clock=runtime.clock, actor="cli",
            )  # fmt: skip
            await session.commit()
            return invitation

    try:
        invitation = run_with_runtime(work)
    except (KibetiError, ValueError) as exc:
        raise click.ClickException(f"{exc} (nothing was created)") from exc
    click.echo(
        f"Invited {invitation.user.email} ({role}) to merchant {merchant_id}'s dashboard at /merchant."
    )
    click.echo("Give them these privately; they are not shown again:")
    click.echo(f"  password: {invitation.password}")
    click.echo(f"  authenticator: {invitation.provisioning_uri}")
