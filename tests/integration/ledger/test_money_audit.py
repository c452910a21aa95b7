"""Every ledger entry (payment, payout, settlement, deposit, withdrawal, refund: all post through
core.ledger.service) writes an audit row in the transaction that moves the money: committed with
it, rolled back with it, never twice for a replay."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit import service as audit
from core.audit.models import AuditEntry
from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.money import Asset, Money

KES = Asset.KES


def kes(value: str) -> Money:
    return Money.of(value, KES)


async def _rows(session) -> list[AuditEntry]:
    return list((await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())


async def test_money_entries_are_audited_in_their_transaction(session_factory) -> None:
    async with session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=7, asset=KES
        )
        mpesa = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        await session.commit()
        wallet_id, mpesa_id = wallet.id, mpesa.id  # the rollback below expires the ORM objects
        deposit = [PostingRequest(mpesa_id, -kes("500")), PostingRequest(wallet_id, kes("500"))]
        await ledger.post_entry(
            session=session, idempotency_key="c2b:QK1", kind="c2b_deposit", postings=deposit
        )
        await session.rollback()  # the money did not move: neither did the audit
        assert await _rows(session) == []
        assert await audit.pending_count(session=session) == 0

        await ledger.post_entry(
            session=session, idempotency_key="c2b:QK1", kind="c2b_deposit", postings=deposit
        )
        await session.commit()
        replay = await ledger.post_entry(
            session=session, idempotency_key="c2b:QK1", kind="c2b_deposit", postings=deposit
        )
        assert replay.replayed
        hold = await ledger.place_hold(session=session, idempotency_key="payout:1", account_id=wallet_id,
                                       amount=kes("200"))  # fmt: skip
        await ledger.post_hold(session=session, hold_id=hold.hold_id, idempotency_key="payout:1:post",
                               kind="mpesa_payout", postings=[PostingRequest(mpesa_id, kes("200"))])  # fmt: skip
        refund = await ledger.place_hold(session=session, idempotency_key="payout:2", account_id=wallet_id,
                                         amount=kes("50"))  # fmt: skip
        assert await ledger.void_hold(session=session, hold_id=refund.hold_id, reason="payout failed")
        with pytest.raises(errors.InsufficientFunds):
            await ledger.transfer(session=session, idempotency_key="send:x", from_account_id=wallet_id,
                                  to_account_id=mpesa_id, amount=kes("10000"), kind="send")  # fmt: skip
        await session.commit()
        # PostgreSQL queues money writes' audit rows (no chain lock); the sweeper chains them
        await audit.chain_pending(session=session)
        await session.commit()
        assert await audit.pending_count(session=session) == 0

        rows = await _rows(session)
        assert [row.action for row in rows] == [
            "money.c2b_deposit",
            "money.mpesa_payout",
            "money.hold_voided",
        ]
        assert rows[0].details["legs"] == [[mpesa_id, "KES", -50000], [wallet_id, "KES", 50000]]
        assert rows[0].subject == f"ledger_entry:{rows[0].details['entry_id']}"
        assert rows[2].details["minor"] == 5000
        assert (await audit.verify(session=session)).ok
