"""Merchant typologies raise staff alerts from the merchant's real credits and settlements (both
databases), once per rule and window however often the job runs."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from compliance.merchant_monitoring import monitor_session
from compliance.models import Alert
from core.clock import FixedClock
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.merchants import service as merchants
from core.money import Asset, Money
from core.settlements import settle as settling
from core.settlements.service import credit_kibeti_payment

KES = Asset.KES


async def test_structuring_and_settle_after_pay_alert_once(session_factory) -> None:
    async with session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Duka la Haraka", actor="t", clock=FixedClock(), settlement_method="till",
            settlement_till="5553333", settlement_schedule="daily",
        )  # fmt: skip
        merchant.status = "active"
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=515, asset=KES
        )
        source = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        total = Money.of(400_000, KES)
        await ledger.post_entry(
            session=session, idempotency_key="mon:fund", kind="test_funding",
            postings=[PostingRequest(source.id, -total), PostingRequest(wallet.id, total)],
        )  # fmt: skip
        for n, amount in enumerate((96_000, 97_500, 99_900)):
            await credit_kibeti_payment(
                session=session, merchant=merchant, payment_key=f"mon:{n}", reference="", customer_id=515,
                from_account_id=wallet.id, amount=Money.of(amount, KES), paid=Money.of(amount, KES), payer="",
            )  # fmt: skip
        settlement = await settling.settle(session=session, merchant=merchant)
        assert settlement is not None
        hits = await monitor_session(session, merchant.id, datetime.now(UTC))
        again = await monitor_session(session, merchant.id, datetime.now(UTC))
        await session.commit()
        assert {h.code for h in hits} == {"merchant_structuring", "merchant_settle_after_pay"}
        assert {h.code for h in again} == {h.code for h in hits}
        alerts = (await session.execute(select(Alert).where(Alert.source == "merchant"))).scalars().all()
        assert sorted(a.rule_code for a in alerts) == ["merchant_settle_after_pay", "merchant_structuring"]
        assert all(a.customer_id is None and f"merchant {merchant.id}" in a.summary for a in alerts)
