"""Rail orders as a state machine (hypothesis): any sequence of status answers (pending, completed,
completed with another amount or currency, failed, reversed) credits an order at most once, only
when the first final answer matches the order, reverses only a credited order, and keeps the books
balanced; the wallet holds the amount exactly while completed. A payment PesaPal completes after
the order failed is flagged for staff, never credited by itself."""

from __future__ import annotations

import asyncio
import shutil
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import JournalEntry, OwnerType
from core.ledger.verify import verify
from core.money import Asset, Money
from core.ports import CollectionResult, CollectionState
from core.rails import service

AMOUNT = Decimal("500.00")
ANSWERS = {
    "pending": CollectionResult(CollectionState.PENDING, ""),
    "completed": CollectionResult(CollectionState.COMPLETED, "", AMOUNT, "KES", "CONF1", "AirtelKE"),
    "other_amount": CollectionResult(CollectionState.COMPLETED, "", AMOUNT + 1, "KES", "CONF1", "Visa"),
    "other_currency": CollectionResult(CollectionState.COMPLETED, "", AMOUNT, "USD", "CONF1", "Visa"),
    "other_reference": CollectionResult(CollectionState.COMPLETED, "KBT-OTHER", AMOUNT, "KES", "C", "Visa"),
    "failed": CollectionResult(CollectionState.FAILED, ""),
    "reversed": CollectionResult(CollectionState.REVERSED, ""),
}


async def _entries(factory: object, kind: str) -> int:
    async with factory() as session:  # type: ignore[operator]
        query = select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == kind)
        return int((await session.execute(query)).scalar_one())


async def _run(url: str, answers: list[str]) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        async with factory() as session:
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=7, asset=Asset.KES
            )
            order = await service.create_order(
                session=session, rail="pesapal", purpose="topup", idempotency_key="state", customer_id=7,
                account_id=wallet.id, phone="+254733000001", amount=Money.of(AMOUNT, Asset.KES),
            )  # fmt: skip
            await session.commit()
        first_final = None
        for answer in answers:
            async with factory() as session:
                applied = await service.apply_result(
                    session=session, order_id=order.id, result=ANSWERS[answer]
                )
                await session.commit()
            if first_final is None and answer != "pending":
                first_final = answer
            credited = await _entries(factory, "pesapal_collection")
            reversed_ = await _entries(factory, "pesapal_reversal")
            status = applied.order.status
            assert credited <= 1 and reversed_ <= credited
            assert credited == (1 if first_final == "completed" else 0), (answers, status)
            assert (status == "reversed") == (reversed_ == 1)
            async with factory() as session:
                balance = await ledger.balance(session=session, account_id=wallet.id)
            assert balance == Money.of(AMOUNT if status == "completed" else 0, Asset.KES), (answers, status)
            if first_final in ("other_amount", "other_currency", "other_reference"):
                assert status == "flagged"
            if first_final == "failed" and answer.startswith(("completed", "other_")):
                assert status == "flagged"  # paid after it failed: staff decide, nothing credited
        async with factory() as session:
            assert (await verify(session=session)).ok
    finally:
        await engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(st.sampled_from(sorted(ANSWERS)), min_size=1, max_size=7))
def test_any_answers_credit_at_most_once(sqlite_template: Path, tmp_path: Path, answers: list[str]) -> None:
    path = tmp_path / "state.db"
    shutil.copy(sqlite_template, path)
    try:
        asyncio.run(_run(f"sqlite+aiosqlite:///{path}", answers))
    finally:
        path.unlink(missing_ok=True)
