"""`kibeti demo`: seed demo customers with balances (idempotent: safe to run again)."""

from __future__ import annotations

import click

from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.money import Asset, Money, format_money
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime

DEMO_PIN = "4826"
DEMO_CUSTOMERS = [
    ("+254700000001", "Amina Wanjiru", "12345678", "en", "5000.00"),
    ("+254700000002", "Otieno Kamau", "23456789", "sw", "2500.00"),
]


async def seed(runtime: Runtime) -> list[str]:
    lines = []
    async with runtime.session_factory() as session:
        float_account = await ledger.system_account(
            session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
        )
        for phone, name, national_id, language, opening in DEMO_CUSTOMERS:
            customer = await identity.get_customer_by_phone(session=session, phone=phone)
            if customer is None:
                customer = await identity.register_customer(
                    session=session,
                    phone=phone,
                    name=name,
                    national_id=national_id,
                    language=language,
                    pin=DEMO_PIN,
                )
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer.id, asset=Asset.KES
            )
            amount = Money.of(opening, Asset.KES)
            await ledger.post_entry(
                session=session,
                idempotency_key=f"demo-opening-{customer.id}",
                kind="deposit",
                memo="Demo opening balance",
                postings=[PostingRequest(float_account.id, -amount), PostingRequest(wallet.id, amount)],
            )
            lines.append(
                f"  {phone}  {name:<14} PIN {DEMO_PIN}  {format_money(amount, language)}  ({language})"
            )
        await session.commit()
    return lines


@click.command(name="demo")
def cli() -> None:
    """Seed demo customers (PIN 4826) with KES balances. Demo data only: never in production."""
    lines = run_with_runtime(seed)
    click.echo("Demo customers ready (all amounts are demo money; rates are fixed demo rates):")
    for line in lines:
        click.echo(line)
    click.echo("Dial the shortcode as any of them, or as a new number, on the phone simulator page.")
