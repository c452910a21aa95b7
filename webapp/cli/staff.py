"""`kibeti staff create --email --role` (prints the TOTP provisioning URI once) and `kibeti staff disable`."""

from __future__ import annotations

import click

from core.auth import service as staff_service
from core.auth.errors import InvalidEmail
from core.auth.types import Role
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime
from webapp.deps_auth import get_keyring


@click.group(name="staff")
def cli() -> None:
    """Staff users: password + TOTP, one role each."""


def _email(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Checked before the password is asked for (twice), not after."""
    try:
        return staff_service.check_email(value)
    except InvalidEmail as exc:
        raise click.BadParameter(f"{exc} (e.g. --email jane@example.com)") from exc


@cli.command(name="create")
@click.option("--email", required=True, callback=_email, help="Sign-in email address.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="The staff role.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="KIBETI_STAFF_PASSWORD",
    help="At least 12 characters (prompted; or KIBETI_STAFF_PASSWORD).",
)
def create_command(email: str, role: str, password: str) -> None:
    """Create a staff user and print the TOTP provisioning URI (shown once: scan it now)."""

    async def work(runtime: Runtime) -> str:
        async with runtime.session_factory() as session:
            new = await staff_service.create_staff(
                session=session,
                email=email,
                role=role,
                password=password,
                keyring=get_keyring(runtime),
                clock=runtime.clock,
                actor="cli",
            )
            await session.commit()
            return new.provisioning_uri

    uri = run_with_runtime(work)
    click.echo(f"Created {email} ({role}).")
    click.echo("Add this to an authenticator app now; it is not shown again:")
    click.echo(uri)


@cli.command(name="disable")
@click.option("--email", required=True)
def disable_command(email: str) -> None:
    """Disable a staff user and revoke all their sessions."""

    async def work(runtime: Runtime) -> bool:
        async with runtime.session_factory() as session:
            staff = await staff_service.get_staff_by_email(session=session, email=email)
            if staff is None:
                return False
            await staff_service.set_active(
                session=session, staff_id=staff.id, active=False, clock=runtime.clock, actor="cli"
            )
            await session.commit()
            return True

    if not run_with_runtime(work):
        raise click.ClickException(f"no staff user {email!r}: check the address they sign in with")
    click.echo("Disabled; all sessions revoked.")
