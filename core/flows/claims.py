"""Sends to numbers without an account: held in the claims account for CLAIM_DAYS, collected on
registration, or returned to the sender when the window closes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.flows import accounts
from core.flows.models import ClaimStatus, SendClaim
from core.inbound import service as inbound
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money

CLAIM_DAYS = 7


async def claims_account_id(session: AsyncSession, asset: Asset) -> int:
    account = await ledger.system_account(session=session, kind=AccountKind.CLAIMS, asset=asset)
    return int(account.id)


async def open_claim(
    session: AsyncSession, *, sender_id: int, phone: str, amount: Money, key: str, clock: Clock
) -> SendClaim:
    found = (
        await session.execute(select(SendClaim).where(SendClaim.idempotency_key == key))
    ).scalar_one_or_none()
    if found is not None:
        return found
    now = clock.now()
    claim = SendClaim(
        idempotency_key=key,
        sender_id=sender_id,
        phone=phone,
        asset=amount.asset.value,
        amount_minor=amount.minor,
        status=ClaimStatus.OPEN.value,
        created_at=now,
        expires_at=now + timedelta(days=CLAIM_DAYS),
    )
    session.add(claim)
    await session.flush()
    return claim


async def _move(session: AsyncSession, claim: SendClaim, to_customer: int, step: str, clock: Clock) -> Money:
    amount = Money.from_minor(claim.amount_minor, Asset(claim.asset))
    await ledger.transfer(
        session=session,
        idempotency_key=f"claim:{claim.id}:{step}",
        from_account_id=await claims_account_id(session, amount.asset),
        to_account_id=await accounts.wallet_account_id(session, to_customer, amount.asset),
        amount=amount,
        kind=f"claim_{step}",
        memo=f"claim {claim.id} {step}",
        details={"claim_id": claim.id},
    )
    claim.status = ClaimStatus.CLAIMED.value if step == "collect" else ClaimStatus.RETURNED.value
    claim.resolved_at = clock.now()
    return amount


async def collect(session: AsyncSession, *, customer_id: int, phone: str, clock: Clock) -> list[Money]:
    """Move every open claim for `phone` into the new customer's wallets."""
    query = select(SendClaim).where(SendClaim.phone == phone, SendClaim.status == ClaimStatus.OPEN.value)
    collected = []
    for claim in (await session.execute(query)).scalars():
        amount = await _move(session, claim, customer_id, "collect", clock)
        await inbound.credit_arrived(  # a received send: the new customer's limits apply to it too
            session=session, customer_id=customer_id, amount=amount, kind=inbound.RECEIVE,
            counterparty=f"customer:{claim.sender_id}",
            account_id=await accounts.wallet_account_id(session, customer_id, amount.asset),
            reference=f"claim:{claim.id}:collect",
        )  # fmt: skip
        collected.append(amount)
    return collected


async def expired(session: AsyncSession, *, clock: Clock, limit: int = 200) -> list[SendClaim]:
    query = (
        select(SendClaim)
        .where(SendClaim.status == ClaimStatus.OPEN.value, SendClaim.expires_at < clock.now())
        .order_by(SendClaim.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def give_back(session: AsyncSession, claim: SendClaim, *, clock: Clock) -> Money:
    return await _move(session, claim, claim.sender_id, "return", clock)
