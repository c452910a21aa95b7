"""What adapters (compliance, simulators, the webhook channel) read and write of core without its tables
(issue 13): each core query returns a view of the rows it was asked for, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import queries as staff
from core.auth.models import StaffUser
from core.identity import queries as customers
from core.identity import service as identity
from core.identity.types import CustomerView
from core.ledger import queries as ledger_queries
from core.ledger import service as ledger
from core.ledger.types import AccountKind, OwnerType, PostingRequest
from core.money import Asset, Money
from core.payments import queries as payments
from core.payments.models import MpesaC2BPayment
from core.payments.types import C2BStatus
from core.security.hashing import use_fast_hashing
from core.settlements import queries as settlements
from core.settlements.models import MerchantCredit, Settlement

Factory = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

use_fast_hashing()


async def _customer(session: AsyncSession, phone: str, name: str, national_id: str) -> int:
    customer = await identity.register_customer(
        session=session, phone=phone, name=name, national_id=national_id, language="sw", pin="4821"
    )
    return customer.id


async def test_customer_view_and_phone_owners(session_factory: Factory) -> None:
    async with session_factory() as session:
        wanjiku = await _customer(session, "0712345678", "Wanjiku", "23456789")
        otieno = await _customer(session, "0722000111", "Otieno", "34567890")
        view = await customers.customer_view(session=session, customer_id=wanjiku)
        assert isinstance(view, CustomerView)
        assert (view.id, view.phone, view.name, view.national_id, view.language, view.kyc_tier) == (
            wanjiku, "+254712345678", "Wanjiku", "23456789", "sw", 0,
        )  # fmt: skip
        assert await customers.customer_view(session=session, customer_id=otieno + 1000) is None
        assert await customers.customer_ids_with_phone(
            session=session, phone="+254722000111", excluding=wanjiku
        ) == {otieno}
        assert not await customers.customer_ids_with_phone(
            session=session, phone="+254722000111", excluding=otieno
        )
        await identity.set_kyc_tier(session=session, customer_id=wanjiku, tier=2)
        session.expire_all()
        tiers = [
            (await customers.customer_view(session=session, customer_id=c)).kyc_tier  # type: ignore[union-attr]
            for c in (wanjiku, otieno)
        ]
        assert tiers == [2, 0]


async def test_staff_member_by_email_any_case_without_secrets(session_factory: Factory) -> None:
    async with session_factory() as session:
        session.add(
            StaffUser(email="amina@kibeti.test", role="compliance", password_hash="x", totp_secret="y")
        )
        session.add(StaffUser(email="old@kibeti.test", role="support", password_hash="x", totp_secret="y",
                              active=False))  # fmt: skip
        await session.flush()
        found = await staff.staff_member_by_email(session=session, email="  Amina@Kibeti.TEST ")
        assert found is not None and (found.email, found.role, found.active) == (
            "amina@kibeti.test", "compliance", True,
        )  # fmt: skip
        former = await staff.staff_member_by_email(session=session, email="old@kibeti.test")
        assert former is not None and not former.active
        assert not hasattr(found, "password_hash")
        assert await staff.staff_member_by_email(session=session, email="nobody@kibeti.test") is None


async def test_pending_hold_id_only_while_the_hold_is_pending(session_factory: Factory) -> None:
    kes = Asset.KES
    async with session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=1, asset=kes
        )
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=kes)
        amount = Money.of("100", kes)
        await ledger.post_entry(
            session=session, idempotency_key="fund", kind="deposit",
            postings=[PostingRequest(float_account.id, -amount), PostingRequest(wallet.id, amount)],
        )  # fmt: skip
        held = await ledger.place_hold(
            session=session, idempotency_key="compliance-hold:7", account_id=wallet.id, amount=amount
        )
        assert await ledger_queries.pending_hold_id(session=session, idempotency_key="compliance-hold:7") == (
            held.hold_id
        )
        assert (
            await ledger_queries.pending_hold_id(session=session, idempotency_key="compliance-hold:8") is None
        )
        await ledger.void_hold(session=session, hold_id=held.hold_id)
        assert (
            await ledger_queries.pending_hold_id(session=session, idempotency_key="compliance-hold:7") is None
        )


async def test_c2b_status_by_trans_id(session_factory: Factory) -> None:
    async with session_factory() as session:
        session.add(
            MpesaC2BPayment(trans_id="RKT0001", claimed_minor=50_000, status=C2BStatus.CREDITED.value)
        )
        session.add(MpesaC2BPayment(trans_id="RKT0002", claimed_minor=50_000))
        await session.flush()
        assert await payments.c2b_status(session=session, trans_id="RKT0001") == "credited"
        assert await payments.c2b_status(session=session, trans_id="RKT0002") == "pending"
        assert await payments.c2b_status(session=session, trans_id="RKT0003") is None


def _credit(credit_id: int, merchant_id: int, at: datetime, **extra: object) -> MerchantCredit:
    return MerchantCredit(
        id=credit_id, merchant_id=merchant_id, source="kibeti", source_ref=f"ref-{credit_id}",
        reference=f"R{credit_id}", gross_minor=1_000 * credit_id, fee_minor=0, net_minor=1_000 * credit_id,
        entry_id=credit_id, created_at=at, **extra,
    )  # fmt: skip


def _settlement(settlement_id: int, merchant_id: int, at: datetime) -> Settlement:
    return Settlement(
        id=settlement_id, merchant_id=merchant_id, idempotency_key=f"s-{settlement_id}", method="till",
        destination="123456", amount_minor=1_000, payout_id=f"p-{settlement_id}", created_at=at,
    )  # fmt: skip


async def test_a_merchants_credits_and_settlements_since(session_factory: Factory) -> None:
    async with session_factory() as session:
        session.add_all([
            _credit(1, 5, T0 - timedelta(days=3)),  # too old
            _credit(2, 5, T0, payer="2547***111"),
            _credit(3, 5, T0 + timedelta(hours=1), payer_customer_id=42, settlement_id=9),
            _credit(4, 6, T0),  # another merchant
            _settlement(8, 5, T0 - timedelta(days=2)),
            _settlement(9, 5, T0 + timedelta(hours=2)),
            _settlement(10, 6, T0 + timedelta(hours=2)),
        ])  # fmt: skip
        await session.flush()
        credits = await settlements.credits_since(session=session, merchant_id=5, since=T0)
        assert [(c.id, c.payer, c.payer_customer_id, c.gross_minor, c.settlement_id) for c in credits] == [
            (2, "2547***111", None, 2_000, None),
            (3, "", 42, 3_000, 9),
        ]
        found = await settlements.settlements_since(session=session, merchant_id=5, since=T0)
        assert [(s.id, s.created_at) for s in found] == [(9, T0 + timedelta(hours=2))]
