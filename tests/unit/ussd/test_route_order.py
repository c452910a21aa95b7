"""The USSD callback is the first route tried (a hop is the most frequent request), and putting it
first shadows nothing: no other route answers a /ussd/ path."""

from __future__ import annotations

from starlette.routing import Match

from channels.ussd.router import router as ussd_router
from webapp.app import create_app


def _scope(path: str) -> dict[str, object]:
    return {"type": "http", "method": "POST", "path": path, "root_path": "", "headers": []}


def _full_matches(path: str) -> list[object]:
    app = create_app()
    return [route for route in app.router.routes if route.matches(_scope(path))[0] == Match.FULL]


def test_the_ussd_router_is_tried_before_any_other_router() -> None:
    app = create_app()
    included = [route for route in app.router.routes if hasattr(route, "original_router")]
    assert included[0].original_router is ussd_router


def test_only_the_ussd_routes_answer_ussd_paths() -> None:
    for path in ("/ussd/some-token", "/ussd/some-token/events"):
        matches = _full_matches(path)
        assert len(matches) == 1, (path, matches)
        assert getattr(matches[0], "original_router", None) is ussd_router
