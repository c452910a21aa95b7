"""`/healthz` (the process answers), `/readyz` (it can serve: database at head, Redis, settings) and
`/metrics` (Prometheus). Nginx keeps /metrics off the public internet (deploy/nginx/kibeti.conf).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from core.runtime import Runtime
from webapp.observability.health import readiness
from webapp.observability.metrics import render
from webapp.observability.snapshot import take_snapshot

router = APIRouter(include_in_schema=False)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = await readiness(_runtime(request))
    ready = all(check.ok for check in checks)
    body: dict[str, Any] = {
        "status": "ready" if ready else "not_ready",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    runtime = _runtime(request)
    snapshot = await take_snapshot(runtime)
    payload, content_type = render(snapshot, multiprocess_dir=runtime.settings.prometheus_multiproc_dir)
    return Response(payload, media_type=content_type)
