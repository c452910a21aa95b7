"""Route matching by first path segments: a request is matched only against the routes that can match it.

FastAPI's router tries every route in order, and an included router tries each of its routes (a
dict copy and a regex each): a request for the 24th router's path paid ~0.3-0.9 ms of CPU before its
handler ran, a 404 twice that (the redirect_slashes scan). A route whose path starts with literal
segments ("/api/v1/...", "/staff/...") can only match a request whose path starts with them, so the
app's routes are grouped by their first two literal segments; a request runs FastAPI's own
`APIRouter.app` over the routes of its group, in the original order, with the routes that may match
any path (a first segment holding a parameter, "/", a root mount, a host route, a frontend route
group) kept in every group. The order, the first full match, the 405 of a partial match, the
redirect_slashes scan (a trailing slash added or removed keeps the group) and the 404 are therefore
FastAPI's own. `app.router.routes` itself is never changed (see `rebuild` for when groups are rebuilt).
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute, Host, Mount
from starlette.types import Receive, Scope, Send


def path_key(path: str) -> tuple[str, ...] | None:
    """A request path's first two segments, up to the first empty one ("/api/v1/x" -> ("api", "v1"),
    "/app/" -> ("app",), "/" -> ()); None when the path does not start with "/". The redirect_slashes
    variant of a path (a trailing slash added or removed) has the same key."""
    if path[:1] != "/":
        return None
    first, _, rest = path[1:].partition("/")  # (partition, not split: this runs for every request)
    if not first:
        return ()
    second = rest.partition("/")[0]
    return (first, second) if second else (first,)


def route_prefix(path: str) -> tuple[str, ...]:
    """The literal segments a route's path starts with (up to two, as path_key: "/api/v1/..." is not
    matched against the /api/staff routers; up to a parameter or an empty segment):
    a path the route matches has exactly these first segments. () for "/" or "/{anything}"."""
    prefix: list[str] = []
    for segment in path.split("/", 3)[1:3]:
        if not segment or "{" in segment:
            break
        prefix.append(segment)
    return tuple(prefix) if path.startswith("/") else ()


def route_prefixes(route: Any) -> set[tuple[str, ...]]:
    """The prefixes of the paths a top-level route serves; {()} when it may match any path."""
    if hasattr(route, "effective_route_contexts"):  # a router included with include_router
        if route.effective_low_priority_routes():
            return {()}
        found: set[tuple[str, ...]] = set()
        for context in route.effective_route_contexts():
            if isinstance(context.original_route, APIRoute):
                path = context.path_format
            elif context.starlette_route is not None:
                path = _literal_path(context.starlette_route)
            else:
                return {()}  # a frontend route group
            if path is None:
                return {()}
            found.add(route_prefix(path))
        return found
    path = _literal_path(route)
    return {()} if path is None else {route_prefix(path)}


def _literal_path(route: BaseRoute) -> str | None:
    if isinstance(route, Host):
        return None
    if isinstance(route, Mount):
        return route.path or None  # "" (a root mount) matches every path
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else None


class SegmentDispatch:
    """Installed as the app router's middleware_stack: picks the routes that can match the request's
    first segments and runs FastAPI's own router loop over them (a lifespan or a root_path: the full
    router, as before)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._key: tuple[object, ...] = ()
        self._views: dict[tuple[str, ...], APIRouter] = {}

    def routes_for(self, path: str) -> list[BaseRoute]:
        """The routes a request for `path` is matched against, in order (tests, benchmarks)."""
        return self._view_for(path).routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or scope.get("root_path"):
            await self.router.app(scope, receive, send)
            return
        view = self._view_for(scope["path"])
        scope.setdefault("router", self.router)  # url_for and friends see the whole router
        await APIRouter.app(view, scope, receive, send)

    def _view_for(self, path: str) -> APIRouter:
        routes = self.router.routes
        if self._key != (id(routes), len(routes), self.router._routes_version):
            self.rebuild()
        key = path_key(path)
        if key is None:
            return self.router
        views = self._views
        return views.get(key) or views.get(key[:1]) or views[()]

    def rebuild(self) -> None:
        """Index the routes again. Done by itself when app.router.routes is replaced, grows or shrinks,
        or FastAPI counts a change (add_api_route, include_router: a lifespan adding a route); call it
        after reordering that list in place or adding routes to a router already included."""
        routes = self.router.routes
        prefixes = [route_prefixes(route) for route in routes]
        keys = {key[:n] for found in prefixes for key in found for n in range(len(key) + 1)}
        self._views = {
            key: self._view(
                [
                    r
                    for r, found in zip(routes, prefixes, strict=True)
                    if any(p == key[: len(p)] for p in found)
                ]
            )
            for key in keys | {()}
        }
        self._key = (id(routes), len(routes), self.router._routes_version)

    def _view(self, routes: list[BaseRoute]) -> APIRouter:
        view = copy.copy(self.router)  # same default, redirect_slashes, low-priority routes, limits
        view.routes = routes
        return view


def install(app: FastAPI) -> SegmentDispatch | None:
    """Match the app's requests by first segment. Not installed (None) when the router has its own
    middleware (its stack is then not the plain router loop)."""
    router = app.router
    if router.middleware_stack != router.app:
        return None
    dispatch = SegmentDispatch(router)
    router.middleware_stack = dispatch
    return dispatch
