"""`kibeti merchant create|activate|api-key|list`: merchants for staff at a terminal (audited as "cli")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import click

from core.auth import api_keys
from core.auth.permissions import API_KEY_SCOPES
from core.merchants import service as merchants
from core.merchants.errors import MerchantScreeningHeld
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime

ACTOR = "cli"
DEFAULT_SCOPES = ("invoices:read", "invoices:write", "webhooks:write", "refunds:write")


@click.group(name="merchant")
def cli() -> None:
    """Merchants: created pending, screened and activated by staff, then given API keys."""


class MerchantRow(Protocol):
    """What a merchant's line shows (core.merchants' rows have these)."""

    id: int
    name: str
    status: str
    till_code: str | None
    fee_bps: int
    settlement_method: str
    settlement_till: str
    settlement_paybill: str
    settlement_account: str
    settlement_phone: str
    settlement_schedule: str


def _line(row: MerchantRow) -> str:
    settle = {
        "till": f"till {row.settlement_till}",
        "paybill": f"paybill {row.settlement_paybill} account {row.settlement_account}",
        "phone": f"phone {row.settlement_phone or '-'}",
    }.get(row.settlement_method, row.settlement_method)
    return (
        f"{row.id:>5}  {row.status:<9}  till code {row.till_code}  fee {row.fee_bps / 100:.2f} %  "
        f"settles to {settle} ({row.settlement_schedule})  {row.name}"
    )


@cli.command(name="create")
@click.option("--name", required=True, help="The business name (screened before activation).")
@click.option("--kra-pin", default="", help="KRA PIN, e.g. P051234567X (needed to activate).")
@click.option("--registration", "registration_number", default="", help="Business registration number.")
@click.option("--director", "directors", multiple=True, help="A director's full name (repeat for each).")
@click.option("--phone", "contact_phone", default="", help="Contact phone; also gets the SMS if no --notify.")
@click.option("--notify", "notification_phones", multiple=True, help="A phone for payment SMS (repeatable).")
@click.option("--language", type=click.Choice(["en", "sw"]), default="en", show_default=True)
@click.option(
    "--settlement", "settlement_method", type=click.Choice(["till", "paybill", "phone"]), default=None
)
@click.option(
    "--till", "settlement_till", default="", help="M-Pesa Buy Goods till number (--settlement till)."
)
@click.option("--paybill", "settlement_paybill", default="", help="Paybill number (--settlement paybill).")
@click.option("--account", "settlement_account", default="", help="Paybill account (--settlement paybill).")
@click.option("--settlement-phone", default="", help="M-Pesa phone (--settlement phone).")
@click.option("--schedule", "settlement_schedule", type=click.Choice(["instant", "daily"]), default="instant")
@click.option(
    "--minimum", "settlement_minimum", default=None, help="Smallest settlement in KES (default 10)."
)
@click.option("--fee-bps", type=click.IntRange(100, 200), default=150, show_default=True, help="1 % = 100.")
@click.option("--expiry-minutes", "invoice_expiry_minutes", type=click.IntRange(1, 1440), default=15)
@click.option("--tolerance-bps", "payment_tolerance_bps", type=click.IntRange(0, 1000), default=0)
@click.option("--till-code", default=None, help="Kibeti till code customers type (default: a free one).")
def create_command(
    name: str,
    kra_pin: str,
    registration_number: str,
    directors: tuple[str, ...],
    contact_phone: str,
    notification_phones: tuple[str, ...],
    language: str,
    settlement_method: str | None,
    settlement_till: str,
    settlement_paybill: str,
    settlement_account: str,
    settlement_phone: str,
    settlement_schedule: str,
    settlement_minimum: str | None,
    fee_bps: int,
    invoice_expiry_minutes: int,
    payment_tolerance_bps: int,
    till_code: str | None,
) -> None:
    """Create a merchant (pending until `kibeti merchant activate`)."""

    async def work(runtime: Runtime) -> MerchantRow:
        async with runtime.session_factory() as session, session.begin():
            return await merchants.create_merchant(
                session=session,
                actor=ACTOR,
                clock=runtime.clock,
                name=name,
                kra_pin=kra_pin,
                registration_number=registration_number,
                directors=list(directors),
                contact_phone=contact_phone,
                notification_phones=list(notification_phones),
                language=language,
                settlement_method=settlement_method,
                settlement_till=settlement_till,
                settlement_paybill=settlement_paybill,
                settlement_account=settlement_account,
                settlement_phone=settlement_phone,
                settlement_schedule=settlement_schedule,
                settlement_minimum=settlement_minimum,
                fee_bps=fee_bps,
                invoice_expiry_minutes=invoice_expiry_minutes,
                payment_tolerance_bps=payment_tolerance_bps,
                till_code=till_code,
            )

    row = run_with_runtime(work)
    click.echo(f"Created merchant {row.id} ({row.status}); Kibeti till code {row.till_code}.")
    click.echo(f"Next: kibeti merchant activate {row.id}")


@cli.command(name="activate")
@click.argument("merchant_id", type=int)
def activate_command(merchant_id: int) -> None:
    """Screen the business and its directors, then activate the merchant."""

    async def work(runtime: Runtime) -> merchants.Activation:
        if runtime.compliance is None:
            raise click.ClickException("no compliance gate is configured: merchants cannot be screened")
        async with runtime.session_factory() as session, session.begin():
            return await merchants.activate_merchant(
                session=session,
                merchant_id=merchant_id,
                actor=ACTOR,
                clock=runtime.clock,
                compliance=runtime.compliance,
            )

    result = run_with_runtime(work)
    if not result.activated:
        raise MerchantScreeningHeld(
            f"merchant {merchant_id} stays pending: the screen came back {result.screening}; "
            "a compliance officer reviews the alert first"
        )
    click.echo(f"Merchant {merchant_id} is active (screening: {result.screening}).")


@cli.command(name="api-key")
@click.argument("merchant_id", type=int)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(sorted(API_KEY_SCOPES)),
    help=f"Repeat for each (default: {', '.join(DEFAULT_SCOPES)}).",
)
@click.option("--name", default="cli", show_default=True, help="A label for the key.")
@click.option("--test", "test_key", is_flag=True, help="A kbt_test_ key instead of kbt_live_.")
def api_key_command(merchant_id: int, scopes: tuple[str, ...], name: str, test_key: bool) -> None:
    """Issue an API key for a merchant; printed once, only its hash is kept."""

    async def work(runtime: Runtime) -> api_keys.IssuedKey:
        async with runtime.session_factory() as session, session.begin():
            return await api_keys.create_api_key(
                session=session,
                merchant_id=merchant_id,
                scopes=list(scopes or DEFAULT_SCOPES),
                name=name,
                clock=runtime.clock,
                actor=ACTOR,
                live=not test_key,
            )

    issued = run_with_runtime(work)
    click.echo(f"API key {issued.api_key.key_id} for merchant {merchant_id} ({issued.api_key.scopes}).")
    click.echo("Store it now; it is not shown again:")
    click.echo(issued.plaintext)


@cli.command(name="list")
@click.option("--status", type=click.Choice(["pending", "active", "suspended"]), default=None)
def list_command(status: str | None) -> None:
    """List merchants."""

    async def work(runtime: Runtime) -> Sequence[MerchantRow]:
        async with runtime.session_factory() as session:
            return await merchants.list_merchants(session=session, status=status, limit=1000)

    rows = run_with_runtime(work)
    for row in rows:
        click.echo(_line(row))
    if not rows:
        click.echo("No merchants yet: kibeti merchant create --name ...")
