"""`kibeti address`: a customer's saved withdrawal addresses (validated and screened once, at save).

kibeti address save --phone 0712345678 --network trc20 --label Binance --address T...
kibeti address list --phone 0712345678
"""

from __future__ import annotations

import click

from core.addressbook import flows as addressbook
from core.addressbook.types import NETWORK_ASSETS, SavedAddressView
from core.errors import KibetiError
from core.flows.service import CoreFlows
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime

NETWORKS = click.Choice(sorted(NETWORK_ASSETS), case_sensitive=False)


def _line(view: SavedAddressView) -> str:
    return f"{view.id}\t{view.label}\t{view.network}\t{view.address}"


async def _customer_id(runtime: Runtime, phone: str) -> int:
    try:
        e164 = normalize_phone(phone)
    except InvalidPhoneNumber as exc:
        raise click.BadParameter(str(exc), param_hint="--phone") from exc
    customer = await CoreFlows(runtime).find_customer(phone=e164)
    if customer is None:
        raise click.ClickException(f"no customer with phone {phone}: they register by dialling the USSD code")
    return customer.id


@click.group(name="address")
def cli() -> None:
    """Saved withdrawal addresses (the USSD menu withdraws to these; a feature phone never types one)."""


@cli.command(name="save")
@click.option("--phone", required=True, help="The customer's phone number, e.g. 0712345678.")
@click.option("--network", type=NETWORKS, required=True, help="btc, erc20 (USDT) or trc20 (USDT).")
@click.option("--label", required=True, help="A short name shown on USSD, e.g. Binance (at most 12).")
@click.option("--address", required=True, help="The destination address on that network.")
def save(phone: str, network: str, label: str, address: str) -> None:
    """Validate, screen and save an address for the customer (saving it again relabels it)."""

    async def work(runtime: Runtime) -> str:
        try:
            customer_id = await _customer_id(runtime, phone)
            view = await addressbook.save_address(
                runtime, customer_id=customer_id, asset=NETWORK_ASSETS[network.lower()], label=label,
                address=address,
            )  # fmt: skip
        except KibetiError as exc:
            raise click.ClickException(f"{exc} [{exc.code}]") from exc
        return f"Saved: {_line(view)}"

    click.echo(run_with_runtime(work))


@cli.command(name="list")
@click.option("--phone", required=True, help="The customer's phone number, e.g. 0712345678.")
def list_addresses(phone: str) -> None:
    """The customer's saved addresses: id, label, network, address."""

    async def work(runtime: Runtime) -> str:
        customer_id = await _customer_id(runtime, phone)
        views = await addressbook.saved_addresses(runtime, customer_id=customer_id)
        return "\n".join(_line(view) for view in views) if views else "No saved addresses."

    click.echo(run_with_runtime(work))
