"""`kibeti mpesa register-c2b` and `kibeti mpesa simulate-c2b`: the paybill (C2B) from the shell."""

from __future__ import annotations

from typing import Any

import click
import httpx
from sqlalchemy import select

from core.identity.phone import normalize_phone
from core.payments.models import MpesaCallback
from core.runtime import Runtime
from payouts import adapter, c2b, c2b_urls
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
    msisdn = normalize_phone(phone).lstrip("+")
    request = {
        "msisdn": msisdn,
        "amount": amount,
        "account": account if account is not None else "0" + msisdn[3:],
        "deliveries": 2 if twice else 1,
        "validation": False if no_validation else None,
    }
    txn, outcomes = run_with_runtime(lambda rt: _pay(rt, request))
    if txn["status"] != "completed":
        reason = c2b.REJECT_REASONS.get(txn["validation"], txn["validation"])
        raise click.ClickException(
            f"payment {txn['status']} ({txn['validation']} {reason}): the payer keeps the money"
        )
    click.echo(
        f"Paid KES {txn['amount']} to paybill {txn['shortcode']}, account {txn['bill_ref']}: "
        f"M-Pesa {txn['trans_id']}, confirmation delivered {txn['confirmations']} time(s); "
        f"Kibeti: {', '.join(outcomes) or 'not processed yet'}"
    )


async def _pay(runtime: Runtime, request: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    base = adapter.base_url(runtime.settings)
    async with httpx.AsyncClient(timeout=60) as http:
        try:
            announced = (await http.get(f"{base}/")).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise click.ClickException(
                f"no Daraja simulator at {base} ({exc.__class__.__name__}): is the app running (make run)?"
            ) from exc
        if not (isinstance(announced, dict) and announced.get("simulator") is True):
            raise click.ClickException(
                f"{base} is not the Daraja simulator: real payments are made on a phone"
            )
        if not (await c2b_urls.registered_with_simulator(runtime)).get("confirmation"):
            await c2b_urls.register(runtime)
        response = await http.post(f"{base}/simulator/c2b/pay", json=request)
    body = response.json()
    if response.status_code != 200:
        detail = body.get("errorMessage") or body.get("detail") if isinstance(body, dict) else body
        raise click.ClickException(f"M-Pesa refused the payment: {detail}")
    async with runtime.session_factory() as session:
        query = select(MpesaCallback.outcome).where(
            MpesaCallback.kind == "c2b_confirmation", MpesaCallback.reference == body["trans_id"]
        )
        outcomes = [
            str(o or "unprocessed")
            for o in (await session.execute(query.order_by(MpesaCallback.id))).scalars()
        ]
    return body, outcomes
