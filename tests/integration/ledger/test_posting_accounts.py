"""Postings carry no foreign key to their account (ledger_0005); what it promised still holds.

The posting paths refuse an unknown account and write nothing; accounts can never be deleted; and
`ledger verify` reports a posting whose account is missing or holds another asset. On PostgreSQL the
posting functions run generic plans (plpgsql re-planned their custom plans on every call)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from core.db.session import make_engine
from core.ledger import errors
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, Posting
from core.ledger.verify import verify
from core.money import Asset, Money

KES = Asset.KES
FUNCTIONS = {"ledger_post_entry", "ledger_post_hold", "ledger_place_hold", "ledger_void_hold"}


async def _funded_wallet(session, customer_id: int) -> int:
    wallet = await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=KES
    )
    float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
    await ledger.transfer(
        session=session,
        idempotency_key=f"fund-{customer_id}",
        from_account_id=float_account.id,
        to_account_id=wallet.id,
        amount=Money.of("50.00", KES),
        kind="deposit",
    )
    return wallet.id


async def test_a_posting_to_an_unknown_account_writes_nothing(session_factory):
    async with session_factory() as session:
        payer = await _funded_wallet(session, 1)
        await session.commit()
        with pytest.raises(errors.UnknownAccount, match="987654"):
            await ledger.transfer(
                session=session, idempotency_key="to-nowhere", from_account_id=payer,
                to_account_id=987654, amount=Money.of("5.00", KES), kind="send",
            )  # fmt: skip
        await session.commit()
        assert await ledger.balance(session=session, account_id=payer) == Money.of("50.00", KES)
        count = (await session.execute(select(func.count()).where(Posting.account_id == 987654))).scalar_one()
        assert count == 0
        assert (await verify(session=session)).ok


async def test_an_account_cannot_be_deleted(session_factory):
    async with session_factory() as session:
        wallet = await _funded_wallet(session, 2)
        await session.commit()
    async with session_factory() as session:
        with pytest.raises(DBAPIError, match="never deleted"):
            await session.execute(text("DELETE FROM ledger_accounts WHERE id = :id"), {"id": wallet})
        await session.rollback()
        assert await ledger.balance(session=session, account_id=wallet) == Money.of("50.00", KES)


async def test_verify_reports_a_posting_without_its_account_or_of_another_asset(session_factory):
    async with session_factory() as session:
        wallet = await _funded_wallet(session, 3)
        entry_id = (await session.execute(select(func.max(Posting.entry_id)))).scalar_one()
        await session.commit()
        assert (await verify(session=session)).ok
        # written around the posting paths, as only a bug or a hand-made fix could
        await session.execute(
            text(
                "INSERT INTO ledger_postings (entry_id, account_id, asset, amount) VALUES "
                "(:entry, 424242, 'KES', 100), (:entry, :wallet, 'BTC', 100), (:entry, :wallet, 'KES', -100),"
                " (:entry, :wallet, 'BTC', -100)"
            ),
            {"entry": entry_id, "wallet": wallet},
        )
        await session.commit()
        problems = (await verify(session=session)).problems
    assert any("names a missing account: 424242" in problem for problem in problems), problems
    assert any(f"names an account holding KES: {wallet}" in problem for problem in problems), problems


async def test_the_posting_functions_run_generic_plans(clean_pg_url):
    engine = make_engine(clean_pg_url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT proname, proconfig FROM pg_proc WHERE proname = ANY(:names)"),
                {"names": sorted(FUNCTIONS)},
            )
        ).all()
    await engine.dispose()
    assert dict(rows) == {name: ["plan_cache_mode=force_generic_plan"] for name in FUNCTIONS}
