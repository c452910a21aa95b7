"""Property (hypothesis): over any sequence of payments to a merchant, refunds and settlements that
M-Pesa pays or refuses, every statement's lines add up (total net + from_earlier_settlements -
kept_for_next_settlement == paid) and the last settlement's kept cents, with what is not settled yet,
are exactly the merchant's balance: no cent is left unexplained."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.clock import FixedClock
from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.merchants import service as merchants
from core.money import Asset, Money
from core.payments import service as payments
from core.settlements import refunds, statement
from core.settlements import settle as settling
from core.settlements.models import MerchantCredit, Settlement
from core.settlements.service import credit_kibeti_payment, merchant_balance
from payouts.mpesa import results

KES = Asset.KES
Op = tuple[str, int]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=1_000, max_value=60_000)),  # KES cents
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=5_000)),
        st.tuples(st.just("settle_ok"), st.just(0)),
        st.tuples(st.just("settle_refused"), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)


def _cents(text: str) -> int:
    return int(Decimal(text) * 100) if text else 0


async def _run(url: str, steps: list[Op]) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        async with factory() as session:
            merchant = await merchants.create_merchant(
                session=session, name="Duka la Senti", actor="t", clock=FixedClock(), settlement_method="till",
                settlement_till="5557777", settlement_schedule="daily", fee_bps=150,
            )  # fmt: skip
            merchant.status = "active"
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=8_000 + merchant.id, asset=KES
            )
            source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
            funding = Money.of(1_000_000, KES)
            await ledger.post_entry(
                session=session, idempotency_key=f"cents:fund:{merchant.id}", kind="test_funding",
                postings=[PostingRequest(source.id, -funding), PostingRequest(wallet.id, funding)],
            )  # fmt: skip
            refs: list[str] = []
            for n, (kind, minor) in enumerate([*steps, ("settle_ok", 0)]):
                if kind == "pay":
                    amount = Money.from_minor(minor, KES)
                    done = await credit_kibeti_payment(
                        session=session, merchant=merchant, payment_key=f"cents:{merchant.id}:{n}", reference="",
                        customer_id=8_000 + merchant.id, from_account_id=wallet.id, amount=amount, paid=amount,
                        payer="",
                    )  # fmt: skip
                    refs.append(done.credit.reference)
                elif kind == "refund" and refs:
                    try:
                        async with session.begin_nested():
                            await refunds.create_refund(
                                session=session, merchant_id=merchant.id, payment=refs[-1],
                                amount=Money.from_minor(minor, KES), idempotency_key=f"{n}", actor="t",
                            )  # fmt: skip
                    except Exception:  # too large, or the balance cannot cover it: nothing moved
                        continue
                elif kind.startswith("settle"):
                    row = await settling.settle(session=session, merchant=merchant, force=True)
                    if row is None:
                        continue
                    if kind == "settle_ok":
                        payout = await payments.get_payout(session=session, payout_id=row.payout_id)
                        await payments.apply_payout_result(
                            session=session, originator_conversation_id=payout.originator_conversation_id,
                            conversation_id="", result=results.b2c_result("0", "ok"), receipt=f"R{row.id}",
                            amount=Decimal(row.amount_minor) / 100,
                        )  # fmt: skip
                    else:
                        await payments.fail_payout(
                            session=session, payout_id=row.payout_id, result_code="2006", reason="closed"
                        )
                    await settling.finish(session=session, payout_id=row.payout_id)
            rows = (
                (await session.execute(select(Settlement).where(Settlement.merchant_id == merchant.id)))
                .scalars()
                .all()
            )
            kept = 0
            for row in sorted(rows, key=lambda r: r.id):
                text = await statement.statement_csv(session=session, settlement_id=row.id)
                lines = {line["line"]: _cents(line["net_kes"]) for line in csv.DictReader(io.StringIO(text))}
                if row.status == "failed":
                    assert statement.KEPT not in lines and statement.FROM_EARLIER not in lines, text
                    continue
                assert lines.get(statement.FROM_EARLIER, 0) == kept, text
                kept = lines.get(statement.KEPT, 0)
                assert lines["total"] + lines.get(statement.FROM_EARLIER, 0) - kept == lines[row.status], text
            unsettled = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(MerchantCredit.net_minor - MerchantCredit.refunded_minor), 0)
                    ).where(MerchantCredit.merchant_id == merchant.id, MerchantCredit.settlement_id.is_(None))
                )
            ).scalar_one()
            assert kept + int(unsettled) == (await merchant_balance(session, merchant.id)).minor
            await session.commit()
    finally:
        await engine.dispose()


def test_a_settlement_that_uses_earlier_cents_and_keeps_new_ones_shows_both(db_url: str) -> None:
    # 1.5% fee: S1 pays 295.00 of 295.50 and keeps 0.50; S2 pays 247.00 of 246.74 + those 0.50, keeps 0.24
    asyncio.run(_run(db_url, [("pay", 30_000), ("settle_ok", 0), ("pay", 25_050)]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_every_kept_cent_is_explained(sqlite_url: str, steps: list[Op]) -> None:
    asyncio.run(_run(sqlite_url, steps))
