"""The STK push job starts the collection through the collection-rail port (Runtime.collection_rails
["mpesa"]), never by calling Daraja itself: a stand-in rail under that name is what gets called, and
its answers lead to the collection's states."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core import runtime as runtime_module
from core.config import Settings
from core.ledger import service as ledger
from core.money import Asset, Money
from core.payments import collections
from core.payments.models import MpesaCollection
from core.ports import CollectionResult, CollectionStarted, CollectionState
from core.rails.errors import RailOutcomeUnknown, RailRefused
from core.runtime import Runtime
from payouts import jobs
from webapp.bootstrap import build_runtime


class RecordingRail:
    name = "mpesa"

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.started: list[tuple[str, str, Money]] = []

    async def start_collection(
        self, *, reference: str, phone: str, amount: Money, description: str
    ) -> CollectionStarted:
        self.started.append((reference, phone, amount))
        if self.fail is not None:
            raise self.fail
        return CollectionStarted(provider_reference="ws_CO_port_1", provider_request_id="mr-1")

    async def collection_status(self, *, provider_reference: str) -> CollectionResult:
        return CollectionResult(state=CollectionState.PENDING, merchant_reference="")

    async def refund_collection(self, *, confirmation: str, amount: Money, remarks: str) -> bool:
        return False

    async def cancel_collection(self, *, provider_reference: str) -> bool:
        return False


@pytest.fixture
async def rt(clean_pg_url: str) -> AsyncIterator[Runtime]:
    current = build_runtime(Settings(kibeti_env="test", database_url=clean_pg_url, redis_url=""))
    runtime_module.install(current)
    yield current
    await current.session_factory.kw["bind"].dispose()


async def _collection(rt: Runtime) -> int:
    async with rt.session_factory() as session:
        wallet = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=9, asset=Asset.KES
        )
        row = await collections.create_collection(
            session=session, idempotency_key="buy-9", customer_id=9, account_id=wallet.id, phone="0712345678",
            amount=Money.of(150, Asset.KES), reference="KBT9",
        )  # fmt: skip
        await session.commit()
        return row.id


@pytest.mark.parametrize(
    ("fail", "state", "checkout"),
    [
        (None, "requested", "ws_CO_port_1"),
        (RailOutcomeUnknown("timeout after sending"), "requesting", None),
        (RailRefused("bad number", provider_code="400.002.02"), "failed", None),
    ],
    ids=["accepted", "outcome-unknown", "refused"],
)
async def test_the_push_goes_through_the_mpesa_rail(
    rt: Runtime, fail: Exception | None, state: str, checkout: str | None
) -> None:
    rail = RecordingRail(fail)
    rt.collection_rails["mpesa"] = rail
    collection_id = await _collection(rt)
    await jobs._request_stk_push(collection_id)
    assert rail.started == [("KBT9", "254712345678", Money.of(150, Asset.KES))]
    async with rt.session_factory() as session:
        row = await session.get(MpesaCollection, collection_id)
    assert row is not None and row.status == state
    if checkout:
        assert row.checkout_request_id == checkout
    await jobs._request_stk_push(collection_id)  # never pushed twice, whatever the first answer
    assert len(rail.started) == 1
