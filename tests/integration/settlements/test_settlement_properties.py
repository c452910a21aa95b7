"""Property (hypothesis): any sequence of payments to a merchant, refunds, settlements that M-Pesa
pays or refuses, conserves the merchant's money: what is on its balance + what M-Pesa paid + what
was refunded = what it was credited (gross - fees), never a settlement above the balance, never a
refund above what was paid; the books balance after every sequence."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import FixedClock
from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.merchants import service as merchants
from core.money import Asset, Money
from core.payments import service as payments
from core.settlements import refunds
from core.settlements import settle as settling
from core.settlements.service import credit_kibeti_payment, merchant_balance
from payouts.mpesa import results

KES = Asset.KES
Op = tuple[str, int]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=300_000)),  # KES cents
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=100_000)),
        st.tuples(st.just("settle_ok"), st.just(0)),
        st.tuples(st.just("settle_refused"), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


async def _run(url: str, steps: list[Op], fee_bps: int) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        async with factory() as session:
            merchant = await merchants.create_merchant(
                session=session, name="Duka la Mali", actor="t", clock=FixedClock(), settlement_method="till",
                settlement_till="5557777", settlement_schedule="daily", fee_bps=fee_bps,
            )  # fmt: skip
            merchant.status = "active"
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=9_000 + merchant.id, asset=KES
            )
            source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
            funding = Money.of(10_000_000, KES)
            await ledger.post_entry(
                session=session, idempotency_key=f"prop:fund:{merchant.id}", kind="test_funding",
                postings=[PostingRequest(source.id, -funding), PostingRequest(wallet.id, funding)],
            )  # fmt: skip
            credited = paid_out = refunded = 0
            refs: list[str] = []
            for n, (kind, minor) in enumerate(steps):
                if kind == "pay":
                    amount = Money.from_minor(minor, KES)
                    done = await credit_kibeti_payment(
                        session=session, merchant=merchant, payment_key=f"prop:{merchant.id}:{n}", reference="",
                        customer_id=9_000 + merchant.id, from_account_id=wallet.id, amount=amount, paid=amount,
                        payer="",
                    )  # fmt: skip
                    credited += done.credit.net_minor
                    refs.append(done.credit.reference)
                elif kind == "refund" and refs:
                    before = await merchant_balance(session, merchant.id)
                    try:
                        async with session.begin_nested():
                            made = await refunds.create_refund(
                                session=session, merchant_id=merchant.id, payment=refs[-1],
                                amount=Money.from_minor(minor, KES), idempotency_key=f"{n}", actor="t",
                            )  # fmt: skip
                    except (refunds.RefundTooLarge, refunds.RefundAmountInvalid):
                        continue
                    except Exception as exc:  # the merchant's balance cannot cover it: nothing moved
                        assert getattr(exc, "code", "") == "insufficient_funds", exc
                        assert await merchant_balance(session, merchant.id) == before
                        continue
                    refunded += made.refund.amount_minor
                elif kind.startswith("settle"):
                    available = await merchant_balance(session, merchant.id)
                    row = await settling.settle(session=session, merchant=merchant)
                    if row is None:
                        continue
                    assert row.amount_minor <= available.minor
                    if kind == "settle_ok":
                        payout = await payments.get_payout(session=session, payout_id=row.payout_id)
                        await payments.apply_payout_result(
                            session=session, originator_conversation_id=payout.originator_conversation_id,
                            conversation_id="", result=results.b2c_result("0", "ok"), receipt=f"R{row.id}",
                            amount=Decimal(row.amount_minor) / 100,
                        )  # fmt: skip
                        paid_out += row.amount_minor
                    else:
                        await payments.fail_payout(
                            session=session, payout_id=row.payout_id, result_code="2006", reason="closed"
                        )
                    await settling.finish(session=session, payout_id=row.payout_id)
            balance = await merchant_balance(session, merchant.id)
            assert balance.minor + paid_out + refunded == credited
            assert balance.minor >= 0
            assert (await verify(session=session)).problems == []
            await session.commit()
    finally:
        await engine.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops, fee_bps=st.integers(min_value=100, max_value=200))
def test_merchant_money_is_conserved(sqlite_url: str, steps: list[Op], fee_bps: int) -> None:
    asyncio.run(_run(sqlite_url, steps, fee_bps))
