"""What makes /app installable: the web app manifest, the service worker (served from /app so its
scope is the portal) and the offline page it shows when there is no network."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from webapp.customer_portal.auth import PREFIX, PublicPage, render
from webapp.web import i18n

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SERVICE_WORKER = Path(__file__).resolve().parent / "static" / "sw.js"


@router.get("/manifest.webmanifest")
async def manifest(page: PublicPage) -> Response:
    body = {
        "name": "Kibeti",
        "short_name": "Kibeti",
        "description": i18n.text("app.manifest.description", page.language),
        "lang": page.language,
        "start_url": f"{PREFIX}/",
        "scope": f"{PREFIX}/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": "#0b5d4b",
        "icons": [
            {
                "src": f"/static/web/kibeti-app-{size}.png",
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any maskable",
            }
            for size in (192, 512)
        ],
    }
    return JSONResponse(
        body, media_type="application/manifest+json", headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/sw.js")
async def service_worker() -> Response:
    return Response(
        SERVICE_WORKER.read_text(encoding="utf-8"),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": f"{PREFIX}/"},
    )


@router.get("/offline")
async def offline(page: PublicPage) -> Response:
    return render(page, "app/offline.html")
