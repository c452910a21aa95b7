"""Daraja callbacks on secret paths, the paybill (C2B) on the embedded default, and staff views.

POST /cb/<token>/{stk, b2c/result, b2c/timeout, status/result, balance/result, c2b/validation,
c2b/confirmation, ...} (prefix MPESA_CALLBACK_PATH_PREFIX, "cb"; the old "/mpesa/" outside production
only): wrong token -> 403 and nothing is stored; otherwise the raw body is
stored before anything else can fail (Daraja does not retry callbacks; a B2C or status answer,
which our Transaction Status query recovers, is stored and applied in one transaction) and applied
idempotently, then answered 200 `{"ResultCode":0,"ResultDesc":"Accepted"}` (a C2B validation gets its
accept/reject reply). Malformed bodies are recorded, answered 200
and flagged for staff. A C2B confirmation or an STK callback credits nothing by itself: the payment
is pending (GET /api/staff/payouts/pending-mpesa) until our own Daraja query confirms it.

Embedded default: the Daraja simulator is mounted at /daraja-sim, the C2B URLs are registered with
it at start-up, and the phone page's "Pay Bill" pays through it. Staff: RQ's failed jobs, flagged
callbacks, and releasing a paybill payment held in suspense to its customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.registry import FailedJobRegistry

from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.config import Settings
from core.errors import KibetiError
from core.payments import callbacks as callback_log
from core.payments import confirmed
from core.security.callbacks import check_callback
from core.security.errors import CallbackRejected
from payouts import adapter, c2b_suspense, c2b_urls, callbacks
from webapp.deps_auth import DbSession, get_runtime, require_permission

log = logging.getLogger(__name__)


def simulator_mounted(settings: Settings) -> bool:
    return not settings.mpesa_base_url and not settings.is_production


@contextlib.asynccontextmanager
async def _register_c2b_urls(app: Any) -> AsyncIterator[None]:
    """Embedded default: register the paybill's C2B URLs with the mounted simulator, in the
    background (it answers only once this process listens, after start-up)."""
    task = None
    current = getattr(getattr(app, "state", None), "runtime", None)  # set by the app's own lifespan
    if current is not None:  # None: an app without the lifespan
        _serve_configured_prefix(app, adapter.callback_prefix(current.settings))
        if simulator_mounted(current.settings):
            task = asyncio.create_task(c2b_urls.register_when_listening(current))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _serve_configured_prefix(app: Any, prefix: str) -> None:
    """Serve the callbacks under MPESA_CALLBACK_PATH_PREFIX too, when it is neither "cb" nor "mpesa"."""
    if prefix in CALLBACK_PREFIXES or not hasattr(app, "add_api_route"):
        return
    app.add_api_route(
        f"/{prefix}/{{token}}/{{kind:path}}", daraja_callback, methods=["POST"], include_in_schema=False
    )


router = APIRouter(tags=["mpesa"], lifespan=_register_c2b_urls)
CALLBACK_PREFIXES = (
    "cb",
    "mpesa",
)  # "cb" by default; "mpesa" for URLs registered before (never in production)
SIMULATOR_PREFIX = "/daraja-sim"
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}
WATCHED_QUEUES = ("payouts", "default")
REDIS_TIMEOUT_SECONDS = 5


@router.post("/mpesa/{token}/{kind:path}", include_in_schema=False)
@router.post("/cb/{token}/{kind:path}", include_in_schema=False)  # Daraja refuses URLs containing "mpesa"
async def daraja_callback(token: str, kind: str, request: Request) -> JSONResponse:
    current = get_runtime(request)
    settings = current.settings
    if settings.is_production and request.url.path.startswith("/mpesa/"):
        return JSONResponse({"detail": "not found"}, status_code=404)
    try:
        ip = check_callback(
            path_token=token,
            expected_token=settings.mpesa_callback_token.get_secret_value(),
            peer=request.client.host if request.client else "",
            forwarded_for=request.headers.get("x-forwarded-for"),
            trusted_proxies=settings.trusted_proxies,
            allowlist=settings.callback_ip_allowlist,
            require_allowlist=settings.is_production,
        )
    except CallbackRejected:
        return JSONResponse({"detail": "forbidden"}, status_code=403)
    if kind not in callbacks.KINDS:
        return JSONResponse({"detail": "not found"}, status_code=404)
    name = callbacks.KINDS[kind]
    # PostgreSQL text cannot hold NUL: replaced like undecodable bytes, so the row is always stored
    raw = (await request.body()).decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    # Daraja echoes our own callback URLs (QueueTimeoutURL in a result's ReferenceData): the path
    # token never reaches a stored row
    raw = raw.replace(settings.mpesa_callback_token.get_secret_value() or "\x00", "***")
    body: Any
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    # stored, then applied (payouts.callbacks.receive); raises, so Daraja is not answered "Accepted",
    # only if nothing could be stored
    outcome = await callbacks.receive(
        current.session_factory, kind=name, body=body, raw=raw, remote_addr=ip,
        reference=callbacks.reference_of(name, body),
    )  # fmt: skip
    if name == "c2b_validation":
        return JSONResponse(callbacks.validation_reply(outcome))
    return JSONResponse(ACCEPTED)


class PaybillIn(BaseModel):
    phone: str = Field(max_length=32)
    amount: str = Field(max_length=16)
    account: str = Field(default="", max_length=20)


@router.post("/simulator/phone/paybill", include_in_schema=False)
async def phone_paybill(body: PaybillIn, request: Request) -> JSONResponse:
    """The phone page's M-Pesa "Pay Bill" (embedded default only): the mounted simulator sends this
    app the validation, then the confirmation; the answer says what happened."""
    current = get_runtime(request)
    if not simulator_mounted(current.settings):
        return JSONResponse({"detail": "not found"}, status_code=404)
    from simulators.daraja import paybill as c2b_sim  # the embedded default only

    try:
        payment = await c2b_sim.pay(
            current, phone=body.phone, amount=body.amount, account=body.account.strip() or None
        )
    except KibetiError as exc:
        return JSONResponse({"ok": False, "message": str(exc)}, status_code=422)
    decided = await c2b_sim.decision(current, str(payment.get("trans_id", "")))
    return JSONResponse(
        {"ok": payment["status"] == "completed", "message": c2b_sim.describe(payment, decided)}
    )


PayoutsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.PAYOUTS_READ))]
PayoutsApprover = Annotated[SignedInStaff, Depends(require_permission(Permission.PAYOUTS_APPROVE))]
RELEASE_ERRORS = {
    c2b_suspense.NotInSuspense: 404,
    c2b_suspense.AlreadyReleased: 409,
    c2b_suspense.NoSuchCustomer: 422,
}


class ReleaseIn(BaseModel):
    account: str = Field(min_length=1, max_length=32)  # the customer's phone number or customer number


@router.post("/api/staff/payouts/c2b/{trans_id}/release")
async def release_c2b(
    trans_id: str, body: ReleaseIn, staff: PayoutsApprover, session: DbSession
) -> JSONResponse:
    """Move a paybill payment held in suspense (see flagged-callbacks) to the customer it was for.
    Maker-checker: the first request is a proposal (202); a different staff member's request for
    the same customer moves the money (200)."""
    try:
        done = await c2b_suspense.release(
            session, trans_id=trans_id[:40], account=body.account, actor=f"staff:{staff.id}"
        )
    except tuple(RELEASE_ERRORS) as exc:
        await session.rollback()
        detail = {"code": exc.code, "message": str(exc)}
        raise HTTPException(RELEASE_ERRORS[type(exc)], detail=detail) from exc
    await session.commit()
    if isinstance(done, c2b_suspense.Pending):
        waiting: dict[str, object] = {"trans_id": done.trans_id, "customer_id": done.customer_id}
        waiting.update(
            amount=str(done.amount.amount), status="pending_approval", proposed_by=done.proposed_by
        )
        return JSONResponse(waiting, status_code=202)
    return JSONResponse(
        {
            "trans_id": done.trans_id,
            "customer_id": done.customer_id,
            "amount": str(done.amount.amount),
            "already_released": done.replayed,
        }
    )


@router.get("/api/staff/payouts/failed-jobs")
async def failed_jobs(staff: PayoutsStaff, request: Request) -> dict[str, Any]:
    """RQ's failed-job registry of the payouts and default queues (staff with payouts.read)."""
    settings = get_runtime(request).settings
    if not settings.redis_url:
        return {"queues": {}, "note": "embedded mode: jobs run in-process; failures are in the log"}
    # RQ's registry is synchronous: off the event loop, with timeouts (a slow or unreachable Redis
    # froze every request of this process, USSD hops included, for as long as it took).
    try:
        return {"queues": await asyncio.to_thread(_failed_jobs, settings.redis_url)}
    except RedisError as exc:
        raise HTTPException(
            503, detail={"code": "redis_unavailable", "message": "the job queue did not answer"}
        ) from exc


def _failed_jobs(redis_url: str) -> dict[str, list[dict[str, Any]]]:
    connection = Redis.from_url(  # one try: a staff page answers "unavailable" rather than wait
        redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        out: dict[str, list[dict[str, Any]]] = {}
        for name in WATCHED_QUEUES:
            registry = FailedJobRegistry(queue=Queue(name, connection=connection))
            jobs = []
            for job_id in registry.get_job_ids(0, 99):
                try:
                    job = registry.job_class.fetch(job_id, connection=connection)
                except NoSuchJobError:
                    continue
                result = job.latest_result()
                jobs.append(
                    {
                        "id": job.id,
                        "function": job.func_name,
                        "kwargs": job.kwargs,
                        "ended_at": job.ended_at.isoformat() if job.ended_at else None,
                        "error": ((result.exc_string or "") if result is not None else "")[-2000:],
                    }
                )
            out[name] = jobs
        return out
    finally:
        connection.close()


@router.get("/api/staff/payouts/flagged-callbacks")
async def flagged_callbacks(staff: PayoutsStaff, session: DbSession) -> list[dict[str, Any]]:
    rows = await callback_log.flagged(session=session)  # the request's session: a second one deadlocks SQLite
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "reference": r.reference,
            "reason": r.flag_reason,
            "received_at": r.received_at,
        }
        for r in rows
    ]


@router.get("/api/staff/payouts/pending-mpesa")
async def pending_mpesa(staff: PayoutsStaff, session: DbSession) -> list[dict[str, Any]]:
    """M-Pesa money a callback announced that our own Daraja query has not confirmed yet (paybill
    payments, STK collections): pending, not spendable."""
    rows = await confirmed.pending_all(session=session)
    return [
        {
            "kind": p.kind,
            "reference": p.reference,
            "amount": str(p.amount.amount),
            "customer_id": p.customer_id,
            "since": p.since,
        }
        for p in rows
    ]


class EmbeddedSimulator:
    """The Daraja simulator mounted in-process at /daraja-sim, only while MPESA_BASE_URL is empty
    (the embedded default) and never in production; otherwise 404."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not simulator_mounted(get_runtime(Request(scope)).settings):
            await JSONResponse({"detail": "not found"}, status_code=404)(scope, receive, send)
            return
        if self._app is None:
            from simulators.daraja.simulator import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


router.mount(SIMULATOR_PREFIX, EmbeddedSimulator())
