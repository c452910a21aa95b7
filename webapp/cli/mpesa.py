"""`kibeti mpesa register-c2b` and `kibeti mpesa simulate-c2b`: the paybill (C2B) from the shell."""

from __future__ import annotations

from typing import Any

import click

from core.errors import KibetiError
from core.identity.phone import normalize_phone
from core.payments import queries as payment_queries
from core.runtime import Runtime
from payouts import c2b_urls
from webapp.cli._common import run_with_runtime


@click.group(name="kibeti")
def cli() -> None:
    """M-Pesa paybill commands (merged into the root group)."""


@cli.group(name="mpesa")
def mpesa_group() -> None:
    """M-Pesa (Daraja) tools."""


@mpesa_group.command(name="register-c2b")
@click.option(
    "--response-type",
    type=click.Choice(["Completed", "Cancelled"]),
    default="Completed",
    show_default=True,
    help="What Safaricom does when the validation URL does not answer.",
)
def register_c2b(response_type: str) -> None:
    """Register the paybill's validation and confirmation URLs (once in production)."""
    out = run_with_runtime(lambda rt: c2b_urls.register(rt, response_type=response_type))
    click.echo(f"C2B URLs registered: {out.get('ResponseDescription', out)}")


@mpesa_group.command(name="simulate-c2b")
@click.option("--phone", required=True, help="The payer's phone: 0712345678, 254712345678 or +254712345678.")
@click.option("--amount", required=True, help="Whole Kenya shillings, 1 to 250,000.")
@click.option(
    "--account", default=None, help="The account number typed on the phone [default: the payer's phone]."
)
@click.option("--twice", is_flag=True, help="Deliver the confirmation twice, as Daraja sometimes does.")
@click.option(
    "--no-validation", is_flag=True, help="Confirmation only (Safaricom's default: validation is opt-in)."
)
def simulate_c2b(phone: str, amount: str, account: str | None, twice: bool, no_validation: bool) -> None:
    """Pay the paybill from a simulated phone: the Daraja simulator sends Kibeti the validation, then
    the confirmation. Needs the running app (`make run`) or `kibeti mpesa simulator`."""

    try:
        normalize_phone(phone)
    except KibetiError as exc:
        raise click.BadParameter(str(exc), param_hint="--phone") from exc
    if not amount.isdigit() or not 1 <= int(amount) <= 250_000:  # what an M-Pesa phone lets a payer type
        raise click.BadParameter(
            f"{amount!r} is not a payment M-Pesa takes: whole shillings from 1 to 250000, e.g. 500",
            param_hint="--amount",
        )
    from simulators.daraja import paybill as c2b_sim  # a simulator command: never a production path

    async def work(rt: Runtime) -> tuple[dict[str, Any], list[str]]:
        payment = await c2b_sim.pay(
            rt,
            phone=phone,
            amount=amount,
            account=account,
            deliveries=2 if twice else 1,
            validation=False if no_validation else None,
        )
        trans_id = str(payment["trans_id"])
        decided = await c2b_sim.decision(rt, trans_id)
        return payment, [*await _outcomes(rt, trans_id), f"confirmed by M-Pesa: {decided}" if decided else ""]

    payment, outcomes = run_with_runtime(work)
    if payment["status"] != "completed":
        raise click.ClickException(c2b_sim.describe(payment))
    click.echo(
        f"{c2b_sim.describe(payment)}, confirmation delivered {payment['confirmations']} time(s); "
        f"Kibeti: {', '.join(o for o in outcomes if o) or 'not processed yet'}"
    )


async def _outcomes(rt: Runtime, trans_id: str) -> list[str]:
    """What the app made of each confirmation delivery (pending, duplicate, ...)."""
    async with rt.session_factory() as session:
        return await payment_queries.c2b_confirmation_outcomes(session=session, trans_id=trans_id)
