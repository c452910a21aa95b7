"""The authorization matrix, extended to every staff portal route x role: each /staff route carries
one rule of the staff API's permission table (core.auth.permissions); a role is let through exactly
when the table says so, and refused with 403 otherwise; anonymous visitors are sent to sign-in."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth.models import Role
from core.auth.permissions import Permission, has_permission
from core.clock import FixedClock
from tests.integration.identity.test_authz_matrix import all_api_routes, rule_of
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in
from tests.integration.staff_portal.test_staff_portal_merchants import ClearScreening
from webapp.app import create_app

Factory = async_sessionmaker[AsyncSession]
PORTAL = "/staff"
LAST = ("/staff/sign-out",)  # signs the client out: tried after everything else


def portal_routes(app: FastAPI) -> list[tuple[str, APIRoute, str]]:
    found = []
    for path, route in all_api_routes(app):
        if path == PORTAL or path.startswith(PORTAL + "/"):
            found.extend((path, route, method) for method in sorted(route.methods))
    return sorted(found, key=lambda item: (item[0] in LAST, item[0], item[2]))


def test_every_portal_route_has_one_rule() -> None:
    routes = portal_routes(create_app(run_scheduler_inside=False))
    assert len(routes) > 10
    missing = [f"{method} {path}" for path, route, method in routes if rule_of(route) is None]
    assert not missing, f"portal routes without an authorization rule: {missing}"


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.parametrize("role", list(Role))
async def test_portal_matrix_for_role(role: Role, pg_session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(pg_session_factory, clock, role.value)
    async with portal_client(pg_session_factory, clock) as (app, client, runtime):
        runtime.compliance = ClearScreening()  # type: ignore[assignment]
        anonymous_failures = []
        for path, route, method in portal_routes(app):
            if rule_of(route) == "public":
                continue
            response = await client.request(method, _url(path), data={})
            expected = 303 if method == "GET" else 403  # a post without a session has no CSRF token
            if response.status_code != expected:
                anonymous_failures.append(f"{method} {path} anonymous -> {response.status_code}")
        assert not anonymous_failures, anonymous_failures
        assert (await sign_in(client, clock, staff)).status_code == 303
        token = csrf_of((await client.get(PORTAL)).text)
        failures = []
        for path, route, method in portal_routes(app):
            rule = rule_of(route)
            if rule == "public":
                continue
            expected = rule == "any_staff" or (isinstance(rule, Permission) and has_permission(role, rule))
            data = {"csrf_token": token} if method == "POST" else None
            response = await client.request(method, _url(path), data=data)
            allowed = response.status_code not in (303, 401, 403) or (
                response.status_code == 303 and "sign-in" not in response.headers.get("location", "")
            )
            if path in LAST:
                allowed = response.status_code == 303
            if allowed != expected:
                failures.append(
                    f"{method} {path} as {role.value}: {response.status_code}, expected {expected}"
                )
            if response.status_code >= 500:
                failures.append(f"{method} {path} as {role.value}: server error")
        assert not failures, "\n".join(failures)
