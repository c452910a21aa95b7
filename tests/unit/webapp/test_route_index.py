"""Matching by first segments (webapp.route_index) picks what FastAPI's full scan of app.router.routes
picks, for every route of the app at its path and for every method, with and without a trailing slash
(redirect_slashes), and for paths nothing serves (404) or serves with another method (405)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Mount

from webapp import route_index
from webapp.app import create_app

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
_VALUES = {"path": "a/b", "int": "7", "float": "1.5", "uuid": "12345678-1234-5678-1234-567812345678"}
UNSERVED = (
    "/", "//", "/nope", "/nope/", "/API/v1/invoices", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/nope",
    "/api/staff", "/api/staff/nope", "/staff/", "/staff/nope/deeper", "/app", "/merchant", "/ussd", "/ussd/",
    "/health/", "/cb", "/cb/", "/i", "/static/", "/api/docs-assets", "/api/docs-assets/", "/x/api/v1/invoices",
)  # fmt: skip


def _concrete(path: str) -> str:
    return _PARAM.sub(lambda m: _VALUES.get(m.group(2) or "", f"x{m.group(1)}"), path)


def _leaf_paths(app: FastAPI) -> list[str]:
    """A concrete path for every route the app serves, included routers' routes one by one."""
    paths: list[str] = []
    for route in app.router.routes:
        contexts = (
            list(route.effective_route_contexts()) if hasattr(route, "effective_route_contexts") else [route]
        )
        for context in contexts:
            target = getattr(context, "starlette_route", None) or context
            if isinstance(target, Mount):
                paths.append(_concrete(target.path) + "/some/file.css")
            else:
                path = getattr(context, "path_format", None) or getattr(target, "path", None)
                assert isinstance(path, str), context
                paths.append(_concrete(path))
    return paths


def _scope(method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }


def _leaf(route: BaseRoute, scope: dict[str, Any]) -> object:
    """The endpoint (or mount app) an included router hands the request to."""
    while hasattr(route, "_match"):
        _, _, inner, _ = route._match(scope)
        assert inner is not None
        route = inner
    return getattr(route, "endpoint", None) or getattr(route, "app", route)


def _pick(routes: list[BaseRoute], method: str, path: str) -> tuple[str, object, object]:
    """What FastAPI's router loop (APIRouter.app) does with these routes: the first full match, else
    the first partial one (405), else a redirect when the other slash form matches, else 404."""
    scope = _scope(method, path)
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return "full", route, _leaf(route, scope)
        if match == Match.PARTIAL and partial is None:
            partial = route
    if partial is not None:
        return "partial", partial, _leaf(partial, scope)
    if path != "/":
        other = _scope(method, path.rstrip("/") if path.endswith("/") else path + "/")
        for route in routes:
            if route.matches(other)[0] != Match.NONE:
                return "redirect", route, None
    return "none", None, None


def _dispatch(app: FastAPI) -> route_index.SegmentDispatch:
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, route_index.SegmentDispatch)  # installed: the served app matches this way
    return dispatch


def test_every_route_and_unserved_path_is_matched_as_by_the_full_scan() -> None:
    app = create_app()
    dispatch = _dispatch(app)
    paths = _leaf_paths(app)
    assert len(paths) > 200 and "/api/v1/invoices" in paths and "/telegram/xsecret" in paths
    outcomes = set()
    for path in [*paths, *(p + "/" for p in paths), *UNSERVED]:
        view = dispatch.routes_for(path)
        order = [route for route in app.router.routes if any(route is kept for kept in view)]
        assert [id(route) for route in view] == [id(route) for route in order], path  # the app's order
        for method in METHODS:
            expected = _pick(app.router.routes, method, path)
            assert _pick(dispatch.routes_for(path), method, path) == expected, (method, path)
            outcomes.add(expected[0])
    assert outcomes == {"full", "partial", "redirect", "none"}
    assert len(dispatch.routes_for("/api/v1/invoices")) < len(app.router.routes) // 4  # the point of it


def test_a_route_added_after_start_up_is_matched() -> None:
    """The M-Pesa router's lifespan adds the configured callback prefix with add_api_route."""
    app = create_app()
    dispatch = _dispatch(app)
    assert _pick(dispatch.routes_for("/kb-callbacks/t/c2b"), "POST", "/kb-callbacks/t/c2b")[0] == "none"

    async def callback() -> None: ...

    app.add_api_route("/kb-callbacks/{token}/{kind:path}", callback, methods=["POST"])
    assert _pick(dispatch.routes_for("/kb-callbacks/t/c2b"), "POST", "/kb-callbacks/t/c2b")[2] is callback


REQUESTS = (
    ("GET", "/health"), ("POST", "/health"), ("GET", "/health/"), ("GET", "/api/v1/nope"), ("GET", "/nope"),
    ("DELETE", "/api/v1/invoices"), ("GET", "/api/openapi.json"), ("GET", "/api/docs"), ("GET", "/api/docs/"),
    ("GET", "/api/docs-assets/nope.js"), ("GET", "/"), ("POST", "/"), ("GET", "/i"), ("PUT", "/staff/login"),
)  # fmt: skip


async def _answers(app: FastAPI) -> list[tuple[str, str, int, str | None, bytes]]:
    """The answers through the whole app (middleware, error handlers), without its lifespan."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = []
        for method, path in REQUESTS:
            response = await client.request(method, path)
            answers.append(
                (method, path, response.status_code, response.headers.get("location"), response.content)
            )
        return answers


def test_the_app_answers_as_without_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    indexed = create_app()
    _dispatch(indexed)
    monkeypatch.setattr(route_index, "install", lambda app: None)
    plain = create_app()
    assert not isinstance(plain.router.middleware_stack, route_index.SegmentDispatch)

    answers = asyncio.run(_answers(indexed))
    assert answers == asyncio.run(_answers(plain))
    statuses = {(method, path): status for method, path, status, _, _ in answers}
    assert statuses[("GET", "/health")] == 200 and statuses[("POST", "/health")] == 405
    assert statuses[("GET", "/health/")] == 307 and statuses[("GET", "/api/v1/nope")] == 404
    openapi = json.loads(answers[REQUESTS.index(("GET", "/api/openapi.json"))][4])
    assert openapi == plain.openapi() and len(openapi["paths"]) > 50


@pytest.mark.parametrize("path", ["/x", "/x/", "/x//", "/x/y", "/x/y/", "/x/y//", "/x/y/z/", "//", "/x//y"])
def test_a_path_and_its_redirect_slashes_form_share_a_group(path: str) -> None:
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    assert route_index.path_key(path) == route_index.path_key(other) or not other
