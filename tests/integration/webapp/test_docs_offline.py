"""Swagger UI and ReDoc work offline (issue 11 item 16): their pages name no outside URL, and every
script, stylesheet and icon they load is served by the app itself."""

from __future__ import annotations

import re

import httpx
import pytest

from webapp.app import create_app

PAGES = ["/api/docs", "/api/redoc"]
_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = create_app(run_scheduler_inside=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.mark.parametrize("page", PAGES)
async def test_docs_page_names_no_outside_url_and_its_assets_are_served(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    outside = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'<>]*", html)
    assert not outside, f"{page} loads from outside the app: {outside}"
    urls = {a or b for a, b in _ASSET.findall(html)}
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, f"{page} loads no script of its own"
    for url in sorted(urls):
        assert url.startswith("/"), f"{page}: {url} is not served by the app"
        asset = await client.get(url)
        assert asset.status_code == 200, f"{page}: {url} -> {asset.status_code}"
        assert asset.content, url


async def test_the_openapi_document_the_pages_load_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200 and response.json()["info"]["title"] == "Kibeti"
