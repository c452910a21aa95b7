"""Merchant API: webhook endpoints and their delivery log (scope `webhooks:write`).

POST /api/v1/webhooks registers an endpoint and answers its signing secret, this once (a replay of
the same Idempotency-Key answers the endpoint without it: the secret is never stored in clear).
GET lists them; GET/DELETE /{id}; POST /{id}/enable after a switch-off; POST /{id}/test sends a
`webhook.test` event; GET /deliveries (or /{id}/deliveries) is the log, newest first, with each
delivery's attempts; POST /deliveries/{id}/redeliver sends an event again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from core.webhooks import service
from core.webhooks.destinations import DestinationPolicy, check_url
from core.webhooks.events import SUBSCRIBABLE
from webapp.deps_auth import DbSession, get_keyring, get_runtime
from webapp.merchant_auth import (
    MerchantPrincipal,
    idempotent,
    idempotent_outcome,
    merchant_api_router,
    require_scope,
)

router = merchant_api_router(prefix="/webhooks", tags=("merchant API: webhooks",))
Writer = Annotated[MerchantPrincipal, Depends(require_scope("webhooks:write"))]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _actor(principal: MerchantPrincipal) -> str:
    return f"api_key:{principal.key_id}"


class NewEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000, description="https:// URL that receives the events")
    events: list[str] = Field(
        default_factory=list,
        max_length=len(SUBSCRIBABLE),
        description=f"Event types to receive; empty: all of them ({', '.join(SUBSCRIBABLE)})",
    )
    description: str = Field(default="", max_length=200)


class EndpointOut(BaseModel):
    """An endpoint as core.webhooks.service returns it (its attributes, read by name)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str
    secret_hint: str = Field(description="The last characters of the signing secret")
    failing_since: datetime | None
    created_at: datetime


class CreatedEndpoint(EndpointOut):
    secret: str | None = Field(
        description="The signing secret: shown in this answer only (null when an Idempotency-Key replays it)"
    )


class EndpointList(BaseModel):
    data: list[EndpointOut]


class AttemptOut(BaseModel):
    """A delivery attempt as core.webhooks.service returns it (its attributes, read by name)."""

    model_config = ConfigDict(from_attributes=True)
    number: int
    started_at: datetime
    outcome: str
    status_code: int | None
    latency_ms: int
    error: str
    response_snippet: str


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    object_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    redelivery_of: int | None
    created_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptOut] | None = None

    @classmethod
    def of(cls, view: service.DeliveryView, log: Sequence[object] | None = None) -> DeliveryOut:
        row = view.delivery
        return cls(
            id=row.id, endpoint_id=row.endpoint_id, event_id=view.event.public_id, event_type=view.event.type,
            object_id=view.event.object_id, status=row.status, attempts=row.attempts,
            next_attempt_at=row.next_attempt_at, last_status_code=row.last_status_code,
            last_error=row.last_error, redelivery_of=row.redelivery_of, created_at=row.created_at,
            finished_at=row.finished_at,
            attempt_log=None if log is None else [AttemptOut.model_validate(a) for a in log],
        )  # fmt: skip


class DeliveryPage(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None


class Accepted(BaseModel):
    delivery_id: int
    status: str


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedEndpoint,
    responses={409: {"description": "Too many endpoints, or Idempotency-Key reused"}},
)
async def create_endpoint(
    body: NewEndpoint, request: Request, session: DbSession, principal: Writer
) -> JSONResponse:
    """Register an endpoint. The answer carries the signing secret once: store it now.

    Each delivery is a POST of the event as JSON with `Kibeti-Signature: t=<unix time>,v1=<hex
    HMAC-SHA256(secret, "<t>.<raw body>")>` (Stripe's scheme: reject a `t` more than 5 minutes
    old). Answer 2xx quickly. Network errors, timeouts, 408, 429 and 5xx are retried for about three
    days; any other answer is final. An event may arrive more than once or out of order: use its
    `id` to ignore repeats and the object's `status` rather than the order of arrival."""
    runtime = get_runtime(request)
    policy = DestinationPolicy.from_settings(runtime.settings)
    # Resolved before the request's transaction starts: on SQLite a transaction holds the one
    # write lock, which a slow DNS answer must not keep from every other request.
    await check_url(body.url, policy)
    shown: dict[str, str] = {}

    async def work() -> tuple[int, dict[str, Any]]:
        endpoint, secret = await service.create_endpoint(
            session=session,
            merchant_id=principal.merchant_id,
            url=body.url,
            events=body.events,
            description=body.description,
            keyring=get_keyring(runtime),
            policy=policy,
            now=runtime.clock.now(),
            actor=_actor(principal),
        )
        shown["secret"] = secret
        return 201, CreatedEndpoint(
            **EndpointOut.model_validate(endpoint).model_dump(), secret=None
        ).model_dump(mode="json")

    answer, committed = await idempotent_outcome(
        request=request, session=session, principal=principal, work=work
    )
    return _with_secret(answer, shown) if committed else answer


def _with_secret(answer: JSONResponse, shown: dict[str, str]) -> JSONResponse:
    """The stored answer carries no secret (it is kept for Idempotency-Key replays): put it in this
    one answer only, and only when this request's work (and so its secret) was committed. A replay,
    even of a concurrent request that won the key, answers unchanged: the secret was shown once."""
    if "secret" not in shown:
        return answer
    document = json.loads(bytes(answer.body))
    document["secret"] = shown["secret"]
    return JSONResponse(document, status_code=answer.status_code, headers={"Cache-Control": "no-store"})


@router.get("", response_model=EndpointList)
async def list_endpoints(principal: Writer, session: DbSession) -> EndpointList:
    rows = await service.list_endpoints(session=session, merchant_id=principal.merchant_id)
    return EndpointList(data=[EndpointOut.model_validate(row) for row in rows])


@router.get("/deliveries", response_model=DeliveryPage)
async def list_all_deliveries(
    principal: Writer,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> DeliveryPage:
    """Every endpoint's deliveries, newest first; `next_cursor` fetches the next page."""
    return await _page(session, principal.merchant_id, None, limit, cursor)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(delivery_id: RowId, principal: Writer, session: DbSession) -> DeliveryOut:
    """One delivery with its attempt log (status, latency and the start of each answer)."""
    view = await service.get_delivery(
        session=session, merchant_id=principal.merchant_id, delivery_id=delivery_id
    )
    return DeliveryOut.of(view, await service.attempts_of(session=session, delivery_id=delivery_id))


@router.post(
    "/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted
)
async def redeliver(
    delivery_id: RowId, request: Request, session: DbSession, principal: Writer
) -> JSONResponse:
    """Send this delivery's event to its endpoint again, as a new delivery."""
    runtime = get_runtime(request)

    async def work() -> tuple[int, dict[str, Any]]:
        again = await service.redeliver(
            session=session,
            merchant_id=principal.merchant_id,
            delivery_id=delivery_id,
            now=runtime.clock.now(),
        )
        return 202, Accepted(delivery_id=again.id, status=again.status).model_dump()

    return await idempotent(request=request, session=session, principal=principal, work=work)


@router.get("/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(endpoint_id: RowId, principal: Writer, session: DbSession) -> EndpointOut:
    row = await service.get_endpoint(
        session=session, merchant_id=principal.merchant_id, endpoint_id=endpoint_id
    )
    return EndpointOut.model_validate(row)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_endpoint(
    endpoint_id: RowId, request: Request, principal: Writer, session: DbSession
) -> Response:
    """Stop sending to this endpoint (its pending deliveries stop; the log stays)."""
    await service.delete_endpoint(
        session=session,
        merchant_id=principal.merchant_id,
        endpoint_id=endpoint_id,
        now=get_runtime(request).clock.now(),
        actor=_actor(principal),
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{endpoint_id}/enable", response_model=EndpointOut)
async def enable_endpoint(
    endpoint_id: RowId, request: Request, session: DbSession, principal: Writer
) -> JSONResponse:
    """Turn an endpoint that was switched off (failing for days) back on."""

    async def work() -> tuple[int, dict[str, Any]]:
        row = await service.enable_endpoint(
            session=session,
            merchant_id=principal.merchant_id,
            endpoint_id=endpoint_id,
            actor=_actor(principal),
        )
        return 200, EndpointOut.model_validate(row).model_dump(mode="json")

    return await idempotent(request=request, session=session, principal=principal, work=work)


class RolledSecret(EndpointOut):
    secret: str | None = Field(
        description="The new signing secret: shown in this answer only (null on an Idempotency-Key replay)"
    )
    previous_secret_expires_at: datetime | None = Field(
        description="Until then deliveries carry a second v1 signature made with the old secret"
    )


@router.post("/{endpoint_id}/roll-secret", response_model=RolledSecret)
async def roll_secret(
    endpoint_id: RowId, request: Request, session: DbSession, principal: Writer
) -> JSONResponse:
    """A new signing secret, shown once. For 24 hours the old one signs too (a second `v1` in
    Kibeti-Signature), so servers can switch over without missing a delivery."""
    runtime = get_runtime(request)
    shown: dict[str, str] = {}

    async def work() -> tuple[int, dict[str, Any]]:
        row, secret = await service.roll_secret(
            session=session,
            merchant_id=principal.merchant_id,
            endpoint_id=endpoint_id,
            keyring=get_keyring(runtime),
            now=runtime.clock.now(),
            actor=_actor(principal),
        )
        shown["secret"] = secret
        rolled = RolledSecret(
            **EndpointOut.model_validate(row).model_dump(),
            secret=None,
            previous_secret_expires_at=row.previous_secret_expires_at,
        )
        return 200, rolled.model_dump(mode="json")

    answer, committed = await idempotent_outcome(
        request=request, session=session, principal=principal, work=work
    )
    return _with_secret(answer, shown) if committed else answer


@router.post("/{endpoint_id}/test", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def send_test(
    endpoint_id: RowId, request: Request, session: DbSession, principal: Writer
) -> JSONResponse:
    """Send a signed `webhook.test` event to this endpoint now (see its delivery log for the answer)."""
    runtime = get_runtime(request)

    async def work() -> tuple[int, dict[str, Any]]:
        delivery = await service.send_test(
            session=session,
            merchant_id=principal.merchant_id,
            endpoint_id=endpoint_id,
            now=runtime.clock.now(),
        )
        return 202, Accepted(delivery_id=delivery.id, status=delivery.status).model_dump()

    return await idempotent(request=request, session=session, principal=principal, work=work)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    endpoint_id: RowId,
    principal: Writer,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> DeliveryPage:
    await service.get_endpoint(session=session, merchant_id=principal.merchant_id, endpoint_id=endpoint_id)
    return await _page(session, principal.merchant_id, endpoint_id, limit, cursor)


async def _page(
    session: DbSession, merchant_id: int, endpoint_id: int | None, limit: int, cursor: str | None
) -> DeliveryPage:
    views = await service.list_deliveries(
        session=session,
        merchant_id=merchant_id,
        endpoint_id=endpoint_id,
        before_id=int(cursor) if cursor else None,
        limit=limit + 1,
    )
    more = len(views) > limit
    views = views[:limit]
    return DeliveryPage(
        data=[DeliveryOut.of(v) for v in views],
        next_cursor=str(views[-1].delivery.id) if more and views else None,
    )
