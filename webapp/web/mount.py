"""Put the web portals on the app: their routers, the shared static files and the HTML error
handling. webapp.app calls `install(app)` once; a new portal adds its module to PORTAL_MODULES
(each exposes `portal: Portal` and `router: APIRouter`)."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse

from webapp.web import errors

PORTAL_MODULES = (
    "webapp.staff_portal.routes",
    "webapp.customer_portal.routes",
    "webapp.merchant_portal.routes",
)
STATIC_PREFIX = "/static/web"  # under /static: exempt from the per-IP request limit
STATIC_DIR = Path(__file__).resolve().parent / "static"
_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png"}

static_router = APIRouter(include_in_schema=False)


@static_router.get(STATIC_PREFIX + "/{name}")
async def static_file(name: str) -> FileResponse:
    """One flat folder of vendored files: no directories, no dotfiles, known types only."""
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        raise HTTPException(404)
    return FileResponse(
        path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=3600"}
    )


def install(app: FastAPI) -> None:
    portals = []
    app.include_router(static_router)
    for name in PORTAL_MODULES:
        module = importlib.import_module(name)
        portals.append(module.portal)
        app.include_router(module.router)
    errors.install(app, portals, static_prefix=STATIC_PREFIX)
