"""The USSD hop is the first route the app tries (a hop is the most frequent request), ahead of the
docs routes and every router; the USSD router is the first router (its end-of-session events), and
putting them first shadows nothing: no other route answers a /ussd/ path."""

from __future__ import annotations

from starlette.routing import Match

from channels.ussd.router import hop_route
from channels.ussd.router import router as ussd_router
from webapp.app import create_app


def _scope(path: str) -> dict[str, object]:
    return {"type": "http", "method": "POST", "path": path, "root_path": "", "headers": []}


def _full_matches(path: str) -> list[object]:
    app = create_app()
    return [route for route in app.router.routes if route.matches(_scope(path))[0] == Match.FULL]


def test_the_hop_is_the_first_route_and_the_ussd_router_the_first_router() -> None:
    app = create_app()
    assert app.router.routes[0] is hop_route
    included = [route for route in app.router.routes if hasattr(route, "original_router")]
    assert included[0].original_router is ussd_router


def test_only_the_ussd_routes_answer_ussd_paths() -> None:
    [hop] = _full_matches("/ussd/some-token")
    assert hop is hop_route
    [events] = _full_matches("/ussd/some-token/events")
    assert getattr(events, "original_router", None) is ussd_router
    assert not _full_matches("/ussd/some-token/other")
