"""The simulator's control API (`/simulator/...`): steer outcomes, inspect counters, resend callbacks."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from simulators.daraja.state import B2C_OUTCOMES, CALLBACK_MODES, STK_OUTCOMES, Behaviour, describe

if TYPE_CHECKING:
    from simulators.daraja.simulator import Simulator


class BehaviourIn(BaseModel):
    outcome: str = "success"
    callback: str = "normal"
    delay_s: float | None = None
    amount_override: str | None = None
    msisdn: str | None = None  # a rule for this MSISDN
    next: int = 0  # one-shot: apply to the next N requests
    default: bool = False  # make it the default


class ConfigIn(BaseModel):
    callback_delay_s: float | None = None
    tps_limit: int | None = None
    rotate_tokens: bool | None = None
    lock_subscriber: bool | None = None
    utility_balance: str | None = None
    initiator_password: str | None = None
    passkey: str | None = None


class SpikeIn(BaseModel):
    count: int = 1


def _steer(sim: Simulator, kind: str, body: BehaviourIn) -> dict[str, Any]:
    outcomes = B2C_OUTCOMES if kind == "b2c" else STK_OUTCOMES
    if body.outcome not in outcomes:
        raise HTTPException(422, f"outcome must be one of {sorted(outcomes)}")
    if body.callback not in CALLBACK_MODES:
        raise HTTPException(422, f"callback must be one of {CALLBACK_MODES}")
    steering = sim.state.b2c_steering if kind == "b2c" else sim.state.stk_steering
    behaviour = Behaviour(body.outcome, body.callback, body.delay_s, body.amount_override)
    if body.next:
        steering.queue.extend([behaviour] * body.next)
    elif body.msisdn:
        steering.by_msisdn[body.msisdn] = behaviour
    else:
        steering.default = behaviour
    return {"ok": True, "kind": kind, "queued": len(steering.queue)}


def control_router(sim: Simulator) -> APIRouter:
    router = APIRouter(prefix="/simulator", tags=["simulator"])

    @router.get("")
    async def info() -> dict[str, Any]:
        return {"simulator": True, "name": "Kibeti Daraja simulator", **sim.state.summary()}

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        sim.reset()
        return {"ok": True}

    @router.post("/config")
    async def config(body: ConfigIn) -> dict[str, Any]:
        cfg = sim.state.config
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(cfg, name, Decimal(value) if name == "utility_balance" else value)
        return {"ok": True}

    @router.post("/spike")
    async def spike(body: SpikeIn) -> dict[str, Any]:
        sim.state.spike_next = body.count
        return {"ok": True}

    @router.post("/b2c/behaviour")
    async def b2c_behaviour(body: BehaviourIn) -> dict[str, Any]:
        return _steer(sim, "b2c", body)

    @router.post("/stk/behaviour")
    async def stk_behaviour(body: BehaviourIn) -> dict[str, Any]:
        return _steer(sim, "stk", body)

    @router.get("/payments")
    async def payments() -> dict[str, Any]:
        return sim.state.summary()

    @router.get("/b2c")
    async def b2c_list() -> list[dict[str, Any]]:
        return [describe(t) for t in sim.state.b2c.values()]

    @router.get("/b2c/times")
    async def b2c_times() -> list[float]:
        return sim.state.b2c_times

    @router.get("/b2c/{ocid}")
    async def b2c_one(ocid: str) -> dict[str, Any]:
        txn = sim.state.b2c.get(ocid)
        if txn is None:
            raise HTTPException(404, "no such OriginatorConversationID")
        return {**describe(txn), "payments": sim.state.payments[ocid], "requests": sim.state.requests[ocid]}

    @router.post("/b2c/{ocid}/resend")
    async def b2c_resend(ocid: str) -> dict[str, Any]:
        txn = sim.state.b2c.get(ocid)
        if txn is None:
            raise HTTPException(404, "no such OriginatorConversationID")
        sim.send_b2c_callbacks(txn, force=True)
        return {"ok": True}

    @router.get("/stk/{checkout_id}")
    async def stk_one(checkout_id: str) -> dict[str, Any]:
        txn = sim.state.stk.get(checkout_id)
        if txn is None:
            raise HTTPException(404, "no such CheckoutRequestID")
        return describe(txn)

    @router.post("/stk/{checkout_id}/resend")
    async def stk_resend(checkout_id: str) -> dict[str, Any]:
        txn = sim.state.stk.get(checkout_id)
        if txn is None or txn.pending:
            raise HTTPException(404, "no such answered CheckoutRequestID")
        sim.send_stk_callbacks(txn, force=True)
        return {"ok": True}

    @router.get("/callbacks")
    async def callbacks() -> list[dict[str, Any]]:
        return sim.state.callbacks

    return router
