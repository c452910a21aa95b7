"""One error mechanism: every domain error class declares its HTTP status and code, and the one
handler in webapp.middleware answers `{code, message, request_id}` with that status."""

from __future__ import annotations

import importlib
import pkgutil

import httpx
from fastapi import FastAPI

import compliance
import core
import payouts
import wallets
from compliance.errors import CaseNotFound, MakerCheckerViolation, MovementNotHeld
from core.errors import KibetiError
from core.ratelimit import RateLimited
from webapp.middleware import install_error_handlers


def _all_error_classes() -> set[type[KibetiError]]:
    for package in (core, compliance, wallets, payouts):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.endswith("errors"):
                importlib.import_module(info.name)
    found: set[type[KibetiError]] = set()
    todo: list[type[KibetiError]] = [KibetiError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_domain_error_declares_a_client_or_server_status_and_a_code() -> None:
    classes = _all_error_classes()
    assert len(classes) > 50
    for cls in classes:
        assert isinstance(cls.http_status, int) and 400 <= cls.http_status < 600, cls
        assert isinstance(cls.code, str) and cls.code, cls


async def _answer(error: KibetiError) -> tuple[int, dict[str, str]]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")
    return response.status_code, response.json()


async def test_the_one_handler_answers_each_error_with_its_declared_status() -> None:
    assert (await _answer(KibetiError("plain")))[0] == 400
    status, body = await _answer(CaseNotFound("no case 9"))
    assert status == 404 and body["code"] == "case_not_found" and body["message"] == "no case 9"
    assert set(body) == {"code", "message", "request_id"}
    assert (await _answer(MovementNotHeld("decided")))[0] == 409
    assert await _answer(MakerCheckerViolation("own change")) == (
        403,
        {"code": "maker_checker", "message": "own change", "request_id": ""},
    )


async def test_a_rate_limited_request_answers_429_with_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/limited")
    async def limited() -> None:
        raise RateLimited(retry_after=90)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/limited")
    assert response.status_code == 429 and response.headers["retry-after"] == "90"
    assert response.json() == {"code": "rate_limited", "message": "too many attempts", "request_id": ""}
