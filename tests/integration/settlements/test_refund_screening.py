"""A merchant's refund to a crypto address is screened by the compliance gate as the merchant's, not
as some customer's: a sanctioned address is refused with a code, a clean one allowed, no customer
profile or limit is touched; without a sanctions list the gate holds it for review (fail closed)."""

from __future__ import annotations

from sqlalchemy import func, select

from compliance.gate import ComplianceGateService
from compliance.models import KycProfile, Movement
from compliance.sanctions import store
from compliance.seed import ensure_defaults
from core.clock import FixedClock
from core.money import Asset, Money
from core.ports import Decision, MovementCheck
from tests.integration.compliance.conftest import crypto_lists  # noqa: F401 (fixture)
from tests.integration.compliance.helpers import SANCTIONED_BTC

CLEAN_BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def _refund(address: str) -> MovementCheck:
    return MovementCheck(
        7, "withdraw", Money.of("0.002", Asset.BTC), Money.of(2600, Asset.KES), address, owner_type="merchant"
    )


async def _count(factory, model: type) -> int:
    async with factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_merchant_refund_addresses_are_screened_only(session_factory, crypto_lists) -> None:  # noqa: F811
    clock = FixedClock()
    async with session_factory() as session, session.begin():
        await ensure_defaults(session=session, now=clock.now())
    gate = ComplianceGateService(session_factory, clock)
    async with session_factory() as session:
        listed = await store.active_list(session=session) is not None  # PostgreSQL: a list may be loaded
    profiles, movements = await _count(session_factory, KycProfile), await _count(session_factory, Movement)
    held = await gate.check(_refund(CLEAN_BTC))
    assert listed or held.decision is Decision.REVIEW  # no sanctions list loaded: fail closed
    async with session_factory() as session, session.begin():
        await store.save_version(session=session, lists=crypto_lists, loaded_by="test")
    refused = await gate.check(_refund(SANCTIONED_BTC))
    assert refused.decision is Decision.DENY and refused.reason_code
    assert (await gate.check(_refund(CLEAN_BTC))).allowed
    assert await _count(session_factory, KycProfile) == profiles  # no customer profile for merchant 7
    assert await _count(session_factory, Movement) == movements  # nor a movement on anyone's limits
