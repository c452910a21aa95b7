"""SMS about money on its way (issue 19 item 7): a deposit first seen on chain (before it is
confirmed), and a crypto withdrawal once it is final (confirmed, or failed and given back).

Staged through the outbox by the wallets package in the transaction that records the event, so a
rerun sends nothing twice (the SMS reference is fixed per event).
"""

from __future__ import annotations

from core import runtime
from core.flows.service import CoreFlows
from core.i18n import translate
from core.identity.models import Customer
from core.money import Asset, Money, format_money

DEPOSIT_SEEN_JOB = "core.flows.notices.deposit_seen"
WITHDRAWAL_FINAL_JOB = "core.flows.notices.withdrawal_final"


def network_name(asset: str, language: str) -> str:
    """The network in the customer's language ("USDT on TRON", "USDT kwenye TRON", "Bitcoin")."""
    if asset in (Asset.USDT_ERC20.value, Asset.USDT_TRC20.value):
        return translate(f"network.{Asset(asset).name.lower()}", language, amount="USDT")
    return "Bitcoin" if asset == Asset.BTC.value else asset


async def _customer(customer_id: int) -> Customer | None:
    async with runtime.get().session_factory() as session:
        return await session.get(Customer, customer_id)


async def deposit_seen(customer_id: int, asset: str, amount_minor: int, txid: str, needed: int) -> str:
    customer = await _customer(customer_id)
    if customer is None:
        return "skipped"
    amount = Money.from_minor(amount_minor, Asset(asset))
    await CoreFlows(runtime.get()).notify(
        phone=customer.phone, code="sms.deposit_seen", language=customer.language,
        reference=f"deposit-seen-{asset}-{txid}", amount=format_money(amount, customer.language),
        network=network_name(asset, customer.language), needed=str(needed), ref=txid[:12],
    )  # fmt: skip
    return "sent"


async def withdrawal_final(
    customer_id: int, withdrawal_id: int, asset: str, amount_minor: int, outcome: str, txid: str
) -> str:
    """`outcome`: confirmed (it arrived) or failed (the held amount and fee are back in the wallet)."""
    customer = await _customer(customer_id)
    if customer is None:
        return "skipped"
    amount = Money.from_minor(amount_minor, Asset(asset))
    code = "sms.withdrawal_confirmed" if outcome == "confirmed" else "sms.withdrawal_failed"
    await CoreFlows(runtime.get()).notify(
        phone=customer.phone, code=code, language=customer.language,
        reference=f"withdrawal-final-{withdrawal_id}", amount=format_money(amount, customer.language),
        network=network_name(asset, customer.language), ref=(txid or str(withdrawal_id))[:12],
    )  # fmt: skip
    return outcome
