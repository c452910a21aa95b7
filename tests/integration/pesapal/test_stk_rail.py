"""The port's other adapter: Daraja's STK push behind CollectionRail, against the Daraja simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from core import runtime as runtime_module
from core.config import Settings
from core.money import Asset, Money
from core.ports import CollectionRail, CollectionResult, CollectionState
from core.rails.errors import RailRefused
from payouts import adapter
from payouts.rails import build
from payouts.stk_rail import DarajaStkRail
from simulators.daraja.simulator import Simulator, create_app
from simulators.daraja.state import SimConfig
from webapp.bootstrap import build_runtime

PHONE = "+254712345678"


@pytest.fixture
async def stk(
    clean_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[CollectionRail, Simulator]]:
    settings = Settings(
        kibeti_env="test", database_url=clean_pg_url, redis_url="", mpesa_base_url="http://sim",
        mpesa_callback_base_url="http://app.invalid",
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.install(rt)
    sim = Simulator(
        SimConfig(callback_delay_s=0.0), callback_transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    monkeypatch.setattr(adapter, "TRANSPORT", httpx.ASGITransport(app=create_app(sim)))
    yield rt.collection_rails["mpesa"], sim
    await sim.aclose()
    await rt.session_factory.kw["bind"].dispose()


async def _final(rail: CollectionRail, reference: str) -> CollectionResult:
    for _ in range(50):
        result = await rail.collection_status(provider_reference=reference)
        if result.state is not CollectionState.PENDING:
            return result
        await asyncio.sleep(0.05)
    return result


async def test_stk_push_behind_the_collection_port(stk: tuple[CollectionRail, Simulator]) -> None:
    rail, sim = stk
    assert isinstance(rail, DarajaStkRail) and set(build(runtime_module.get())) == {"mpesa", "pesapal"}
    started = await rail.start_collection(
        reference="KBT1", phone=PHONE, amount=Money.of(100, Asset.KES), description="Kibeti"
    )
    assert started.provider_reference and started.redirect_url == ""  # a prompt on the phone, no page
    assert (await _final(rail, started.provider_reference)).state is CollectionState.COMPLETED
    sim.state.stk_steering.default.outcome = "1032"  # the customer cancels the prompt
    cancelled = await rail.start_collection(
        reference="KBT2", phone=PHONE, amount=Money.of(100, Asset.KES), description=""
    )
    assert (await _final(rail, cancelled.provider_reference)).state is CollectionState.FAILED
    with pytest.raises(RailRefused):
        await rail.refund_collection(confirmation="X", amount=Money.of(1, Asset.KES), remarks="")
    assert await rail.cancel_collection(provider_reference=cancelled.provider_reference) is False
