"""Column widths and keys (issue 11 item 11): compliance holds any customer id `customers.id` can
take (64-bit), and a national ID belongs to one customer even when two registrations race past
the use case's check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import BigInteger, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.models import KycDocument, KycProfile, Movement
from core.db.base import Base
from core.identity.models import Customer
from webapp.schema import import_all_models

Factory = async_sessionmaker[AsyncSession]
BEYOND_32_BITS = 2**31 + 7


def _customer(phone: str, national_id: str | None) -> Customer:
    return Customer(phone=phone, name="Jane Wambui", national_id=national_id, pin_hash="x")


def test_every_compliance_customer_id_column_is_64_bit() -> None:
    import_all_models()
    columns = [
        column
        for table in Base.metadata.sorted_tables
        if table.name.startswith("compliance_")
        for column in table.columns
        if column.name == "customer_id"
    ]
    assert len(columns) >= 7
    narrow = [str(column) for column in columns if not isinstance(column.type, BigInteger)]
    assert not narrow, f"32-bit customer ids: {narrow}"


async def test_compliance_stores_a_customer_id_beyond_32_bits(pg_session_factory: Factory) -> None:
    async with pg_session_factory() as session:
        session.add(KycProfile(customer_id=BEYOND_32_BITS, tier=1))
        session.add(
            KycDocument(
                customer_id=BEYOND_32_BITS, kind="selfie", content_type="image/jpeg", size=1,
                sha256="0" * 64, sealed="x", retain_until=datetime.now(UTC),
            )
        )  # fmt: skip
        session.add(
            Movement(
                customer_id=BEYOND_32_BITS, kind="deposit", asset="KES", amount_minor=1, amount_kes=1,
                decision="allow",
            )
        )  # fmt: skip
        await session.commit()
    async with pg_session_factory() as session:
        stored = (await session.execute(select(Movement.customer_id))).scalars().all()
    assert stored == [BEYOND_32_BITS]


async def test_a_national_id_belongs_to_one_customer(session_factory: Factory) -> None:
    async with session_factory() as session:
        session.add_all([_customer("+254700000001", None), _customer("+254700000002", None)])
        session.add(_customer("+254700000003", "31234567"))
        await session.commit()  # customers without an ID are not duplicates of each other
    async with session_factory() as session:
        session.add(_customer("+254700000004", "31234567"))
        with pytest.raises(IntegrityError):
            await session.commit()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # web3 (wallets adapter) imports websockets.legacy
async def test_a_registration_that_loses_the_race_for_a_national_id_is_told_so(
    clean_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two numbers registering one national ID at once both pass the use case's check; the unique
    index refuses the second, which gets the use case's answer, not a database error."""
    from core.config import Settings
    from core.flows import service as flows_service
    from core.flows.errors import NationalIdTaken
    from core.flows.service import CoreFlows
    from core.security.hashing import use_fast_hashing
    from webapp.bootstrap import build_runtime

    use_fast_hashing()
    rt = build_runtime(Settings(kibeti_env="test", database_url=clean_pg_url, redis_url=""))
    try:
        flows = CoreFlows(rt)
        await flows.register(
            phone="+254711000001", name="Jane Wambui", national_id="31234567", pin="7391", language="en",
            idempotency_key="race-1",
        )  # fmt: skip

        async def checked_before_the_first_committed(session: AsyncSession, national_id: str) -> None:
            return None

        monkeypatch.setattr(flows_service, "_national_id_holder", checked_before_the_first_committed)
        with pytest.raises(NationalIdTaken):
            await flows.register(
                phone="+254711000002", name="John Otieno", national_id="31234567", pin="7391", language="en",
                idempotency_key="race-2",
            )  # fmt: skip
        again = await flows.register(  # the first number retrying its own registration still succeeds
            phone="+254711000001", name="Jane Wambui", national_id="31234567", pin="7391", language="en",
            idempotency_key="race-1",
        )  # fmt: skip
        assert again.phone == "+254711000001"
    finally:
        await rt.session_factory.kw["bind"].dispose()
