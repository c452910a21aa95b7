"""The API documentation pages, offline: Swagger UI at /api/docs and ReDoc at /api/redoc, with
their JavaScript, CSS and icon served by this app (from the fastapi-offline package), never from a
CDN. Staff portals run on networks that may not reach the internet, and a CDN script runs with the
page's origin: it could read a staff token pasted into "Authorize"."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/api/docs"
REDOC_URL = "/api/redoc"
ASSETS_URL = "/api/docs-assets"
OAUTH2_REDIRECT_URL = "/api/docs/oauth2-redirect"
ASSETS = {
    "swagger_js": "swagger-ui-bundle.js",
    "swagger_css": "swagger-ui.css",
    "redoc_js": "redoc.standalone.js",
    "favicon": "favicon.png",
}


def _assets_directory() -> str:
    return str(resources.files("fastapi_offline") / "static")


def install(app: FastAPI) -> None:
    """Serve the pages and their assets. The app must be built with docs_url=None, redoc_url=None."""
    app.mount(ASSETS_URL, StaticFiles(directory=_assets_directory()), name="docs-assets")

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{ASSETS_URL}/{ASSETS[name]}"

    def openapi_url(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - API",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=asset(request, "swagger_js"),
            swagger_css_url=asset(request, "swagger_css"),
            swagger_favicon_url=asset(request, "favicon"),
            # Swagger UI's default sends the spec's URL to an online validator for a badge
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - API reference",
            redoc_js_url=asset(request, "redoc_js"),
            redoc_favicon_url=asset(request, "favicon"),
            with_google_fonts=False,
        )
