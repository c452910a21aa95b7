"""The M-Pesa float account's cached id never names another account, on both databases (review:
on SQLite a rolled-back id was handed to a customer's wallet, which then took payouts' credits)."""

from __future__ import annotations

from core.ledger import service as ledger
from core.ledger.models import Account, OwnerType
from core.money import Asset
from core.payments import service as payments


async def test_a_float_account_opened_in_a_rolled_back_transaction_is_not_remembered(session_factory):
    async with session_factory() as session:
        opened = await payments._float_account_id(session)  # opens it: this database had none
        await session.rollback()  # the payout's transaction failed after that
    async with session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=42, asset=Asset.KES
        )  # SQLite hands the rolled-back id on to the next account opened
        await session.commit()
    async with session_factory() as session:
        float_id = await payments._float_account_id(session)
        assert float_id != wallet.id
        named = await session.get(Account, float_id)
        # the float account, or on PostgreSQL (ids never reused) possibly no account at all: a posting
        # to it is refused (unknown account) and the next one looks the id up again
        assert named is None or (named.kind, named.owner_type) == ("mpesa_float", "system")
        assert named is not None or session.bind.dialect.name == "postgresql"
    assert opened
