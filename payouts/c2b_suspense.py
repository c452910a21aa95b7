"""Staff release a paybill payment held in suspense to the customer it was meant for (a mistyped
account, a customer who registered later): once per TransID, audited, maker-checker.

The first staff member's request is a proposal (an audit row, `c2b.release_proposed`); the money
moves only when a different staff member asks to release the same payment to the same customer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.errors import KibetiError
from core.identity.types import CustomerStatus
from core.ledger import service as ledger
from core.ledger.errors import IdempotencyConflict
from core.ledger.types import AccountKind, OwnerType
from core.money import Asset, Money
from core.payments import paybill
from payouts import c2b


class NotInSuspense(KibetiError):
    code = "c2b_not_in_suspense"


class AlreadyReleased(KibetiError):
    code = "c2b_already_released"


class NoSuchCustomer(KibetiError):
    code = "c2b_no_such_customer"


@dataclass(frozen=True)
class Released:
    trans_id: str
    customer_id: int
    amount: Money
    replayed: bool


@dataclass(frozen=True)
class Pending:
    """Proposed by `proposed_by`; a different staff member must ask for the same release."""

    trans_id: str
    customer_id: int
    amount: Money
    proposed_by: str


PROPOSED = "c2b.release_proposed"


async def _released_to(session: AsyncSession, trans_id: str) -> int | None:
    done = await paybill.booking(session=session, idempotency_key=f"c2b-release:{trans_id}")
    return int(done.details["customer_id"]) if done is not None else None


async def release(session: AsyncSession, *, trans_id: str, account: str, actor: str) -> Released | Pending:
    """Propose, or (by a second staff member, same customer) carry out, moving the suspense booking
    of `trans_id` to the KES wallet `account` names (a phone number in any form, or a customer
    number). The caller commits."""
    entry = await paybill.booking(session=session, idempotency_key=f"c2b:{trans_id}")
    if entry is None or entry.kind != c2b.SUSPENSE_KIND:
        raise NotInSuspense(f"no paybill payment {trans_id} is held in suspense")
    customer = await c2b.find_customer(session, account.strip())
    if customer is None or customer.status != CustomerStatus.ACTIVE.value:
        raise NoSuchCustomer(f"{account!r} names no active customer")
    amount = Money.from_minor(entry.credited_minor, Asset.KES)
    already = await _released_to(session, trans_id)
    if already is not None and already != customer.id:
        raise AlreadyReleased(f"paybill payment {trans_id} was already released to another customer")
    maker = ""
    if already is None:
        proposal = await paybill.latest_proposal(session=session, action=PROPOSED, subject=f"c2b:{trans_id}")
        if proposal is None or proposal.details.get("customer_id") != customer.id:
            await audit.record(
                session=session, actor=actor, action=PROPOSED, subject=f"c2b:{trans_id}",
                details={"customer_id": customer.id, "amount_minor": amount.minor},
            )  # fmt: skip
            return Pending(trans_id=trans_id, customer_id=customer.id, amount=amount, proposed_by=actor)
        if proposal.actor == actor:  # the maker asking again: still waiting for a second person
            return Pending(trans_id=trans_id, customer_id=customer.id, amount=amount, proposed_by=actor)
        maker = proposal.actor
    suspense = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=Asset.KES)
    wallet = await ledger.get_or_open_account(
        session=session,
        owner_type=OwnerType.CUSTOMER,
        owner_id=customer.id,
        asset=Asset.KES,
        kind=AccountKind.WALLET,
    )
    try:
        result = await ledger.transfer(
            session=session,
            idempotency_key=f"c2b-release:{trans_id}",
            from_account_id=suspense.id,
            to_account_id=wallet.id,
            amount=amount,
            kind=c2b.LEDGER_KIND,
            memo=f"M-Pesa paybill {trans_id}",
            details={"trans_id": trans_id, "from": "suspense", "customer_id": customer.id},
        )
    except IdempotencyConflict as exc:
        raise AlreadyReleased(f"paybill payment {trans_id} was already released to another customer") from exc
    if not result.replayed:
        await audit.record(
            session=session,
            actor=actor,
            action="c2b.release_from_suspense",
            subject=f"customer:{customer.id}",
            details={"trans_id": trans_id, "amount_minor": amount.minor, "proposed_by": maker},
        )
    return Released(trans_id=trans_id, customer_id=customer.id, amount=amount, replayed=result.replayed)
