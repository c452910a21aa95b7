"""`kibeti demo`: seed demo customers with balances (idempotent: safe to run again).

The demo customers are verified to tier 1 against the simulated identity register, and when no
sanctions list is active the bundled OFAC crypto-address list is loaded, so that on the embedded
default they can also withdraw crypto (screened) to an outside address.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.flows import verify_identity_flow
from compliance.iprs import SimulatedIprs
from compliance.sanctions import store
from compliance.sanctions.loader import load_path
from core.auth import api_keys
from core.identity import queries as identity_queries
from core.identity import service as identity
from core.identity.types import CustomerView
from core.ledger import service as ledger
from core.ledger.types import AccountKind, OwnerType, PostingRequest
from core.merchants import service as merchants
from core.merchants.errors import UnknownMerchant
from core.money import Asset, Money, format_money
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime

DEMO_PIN = "4826"
DEMO_MERCHANT_TILL_CODE = "123456"
DEMO_BIRTH_DATE = date(1990, 5, 17)
DEMO_SANCTIONS = Path(__file__).resolve().parent.parent / "demo_data" / "sanctions"
DEMO_CUSTOMERS = [
    ("+254700000001", "Amina Wanjiru", "12345678", "en", "5000.00"),
    ("+254700000002", "Otieno Kamau", "23456789", "sw", "2500.00"),
    # an Airtel line: no M-Pesa prompt; it buys by card or Airtel Money through PesaPal (issue 22)
    ("+254733000001", "Wambui Achieng", "34567890", "en", "100.00"),
]


async def _ensure_sanctions_list(session: AsyncSession) -> str:
    if await store.active_list(session=session) is not None:
        return ""
    lists = load_path(DEMO_SANCTIONS)
    row = await store.save_version(session=session, lists=lists, loaded_by="demo")
    count = lists.summary()["crypto_addresses"]
    return f"Loaded the bundled OFAC crypto-address list (version {row.id}: {count} addresses, no names)."


async def _verify_to_tier_1(
    runtime: Runtime, session: AsyncSession, customer: CustomerView, national_id: str
) -> None:
    if customer.kyc_tier >= 1:
        return
    result = await verify_identity_flow(
        session=session,
        customer_id=customer.id,
        full_name=customer.name,
        id_number=national_id,
        date_of_birth=DEMO_BIRTH_DATE,
        verifier=SimulatedIprs(lenient=True),
        now=runtime.clock.now(),
    )
    assert result.tier >= 1, result  # the lenient simulated register matches every demo identity


async def seed(runtime: Runtime, *, base_url: str = "") -> list[str]:
    """Seed the demo data; `base_url` (default MPESA_CALLBACK_BASE_URL) is where the printed curl
    example sends its request."""
    lines = []
    async with runtime.session_factory() as session:
        notice = await _ensure_sanctions_list(session)
        if notice:
            lines.append(notice)
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
            await _verify_to_tier_1(runtime, session, identity_queries.view_of(customer), national_id)
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
                f"  {phone}  {name:<14} PIN {DEMO_PIN}  {format_money(amount, language)}  "
                f"({language}, KYC tier 1)"
            )
        lines += await _demo_merchant(runtime, session, base_url or runtime.settings.mpesa_callback_base_url)
        await session.commit()
    return lines


async def _demo_merchant(runtime: Runtime, session: AsyncSession, base_url: str) -> list[str]:
    """The demo merchant (till code 123456, screened and active) and a fresh API key for it."""
    try:
        merchant = await merchants.get_by_till_code(session=session, till_code=DEMO_MERCHANT_TILL_CODE)
    except UnknownMerchant:
        merchant = await merchants.create_merchant(
            session=session,
            name="Mama Mboga Groceries",
            actor="demo",
            clock=runtime.clock,
            kra_pin="P051234567X",
            registration_number="BN-DEMO-0001",
            directors=["Wanjiku Mwangi"],
            contact_phone="+254700000009",
            # settled to an M-Pesa till (B2B Buy Goods) in the daily batch, or by `kibeti settlement run`
            settlement_method="till",
            settlement_till="5551234",
            settlement_schedule="daily",
            notification_phones=["+254700000009"],
            till_code=DEMO_MERCHANT_TILL_CODE,
        )
    if not merchant.active and runtime.compliance is not None:
        await merchants.activate_merchant(
            session=session,
            merchant_id=merchant.id,
            actor="demo",
            clock=runtime.clock,
            compliance=runtime.compliance,
        )
    issued = await api_keys.create_api_key(
        session=session,
        merchant_id=merchant.id,
        scopes=["invoices:read", "invoices:write", "webhooks:write", "refunds:write"],
        name="demo",
        clock=runtime.clock,
        actor="demo",
    )
    return [
        f"Demo merchant {merchant.name} (id {merchant.id}, {merchant.status}), "
        f"till code {merchant.till_code}.",
        f"  Its API key (shown once): {issued.plaintext}",
        f"  curl -s -X POST {base_url.rstrip('/')}/api/v1/invoices -H 'Authorization: Bearer <key>' "
        '-H \'Content-Type: application/json\' -d \'{"amount": "2500", "currency": "KES"}\'',
    ]


@click.command(name="demo")
@click.option(
    "--base-url",
    default="",
    help="Where the app is served, for the printed curl example "
    "(default: MPESA_CALLBACK_BASE_URL, which `kibeti serve --port` tells you to export).",
)
def cli(base_url: str) -> None:
    """Seed demo customers (PIN 4826) with KES balances. Demo data only: never in production."""
    if base_url and not base_url.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"give an http(s) URL such as http://127.0.0.1:8000, not {base_url!r}", param_hint="--base-url"
        )
    lines = run_with_runtime(lambda runtime: seed(runtime, base_url=base_url))
    click.echo("Demo customers and merchant ready (all amounts are demo money; rates are fixed demo rates):")
    for line in lines:
        click.echo(line)
    click.echo("Dial the shortcode as any of them, or as a new number, on the phone simulator page.")
