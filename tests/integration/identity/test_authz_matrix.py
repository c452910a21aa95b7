"""The authorization matrix, generated from the app's route table.

Every staff route (core.auth.permissions.STAFF_ROUTE_PREFIXES) must carry a rule dependency; for each
route and each role the request must be allowed exactly when the matrix in core/auth/permissions.py
says so. A new staff route without a rule fails `test_every_staff_route_has_a_rule`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import sessions
from core.auth.models import Role, StaffUser
from core.auth.permissions import STAFF_ROUTE_PREFIXES, Permission, has_permission
from core.clock import FixedClock
from core.ratelimit import Decision, Limit
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import SECRET_KEY
from webapp.app import create_app
from webapp.deps_auth import RULE_ATTRIBUTE

Factory = async_sessionmaker[AsyncSession]


def _rules(dependant: Any) -> list[Any]:
    found = []
    for dependency in dependant.dependencies:
        rule = getattr(dependency.call, RULE_ATTRIBUTE, None)
        if rule is not None:
            found.append(rule)
        found.extend(_rules(dependency))
    return found


def all_api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(full path, route) for every APIRoute, including those inside included routers."""
    found: list[tuple[str, APIRoute]] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append((route.path, route))
        elif hasattr(route, "effective_route_contexts"):  # FastAPI >= 0.16x lazy inclusion
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    found.append((context.path or context.original_route.path, context.original_route))
    return found


def staff_routes(app: FastAPI) -> list[tuple[str, APIRoute, str]]:
    routes = []
    for path, route in all_api_routes(app):
        if path.startswith(STAFF_ROUTE_PREFIXES):
            for method in sorted(route.methods):
                routes.append((path, route, method))
    return routes


def rule_of(route: APIRoute) -> Any:
    rules = _rules(route.dependant)
    permissions = [r for r in rules if isinstance(r, Permission)]
    if permissions:
        return permissions[0]
    return rules[0] if rules else None


def test_every_staff_route_has_a_rule() -> None:
    app = create_app(run_scheduler_inside=False)
    routes = staff_routes(app)
    assert routes, "no staff routes found"
    missing = [f"{method} {path}" for path, route, method in routes if rule_of(route) is None]
    assert not missing, (
        f"staff routes without an authorization rule: {missing}. Add one dependency from webapp/deps_auth.py: "
        "Depends(require_permission(Permission.X)), Depends(any_staff) or Depends(public)."
    )
    for path, route, _method in routes:
        permissions = {r for r in _rules(route.dependant) if isinstance(r, Permission)}
        assert len(permissions) <= 1, f"{path} declares several permissions"


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


class _Unlimited:
    async def hit(self, limit: Limit, key: str) -> Decision:
        return Decision(True, limit.limit, 0)


async def test_matrix_every_staff_route_by_every_role(pg_session_factory: Factory) -> None:
    clock = FixedClock()
    staff_by_role: dict[Role, StaffUser] = {}
    async with pg_session_factory() as session:
        for role in Role:
            staff = StaffUser(
                email=f"{role.value}@kibeti.test",
                role=role.value,
                password_hash="x",
                totp_secret="x",
                last_totp_step=0,
                active=True,
                failed_logins=0,
                created_at=clock.now(),
            )
            session.add(staff)
            staff_by_role[role] = staff
        await session.commit()

    async def fresh_token(role: Role) -> str:  # a new login per request: logout revokes its own session
        async with pg_session_factory() as session:
            staff = await session.get(StaffUser, staff_by_role[role].id)
            assert staff is not None
            pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
            await session.commit()
        return pair.access_token

    runtime = make_runtime(pg_session_factory, clock)
    runtime.rate_limiter = _Unlimited()
    async with api_client(runtime) as (app, client):
        failures = []
        for path, route, method in staff_routes(app):
            rule = rule_of(route)
            if rule == "public":
                continue
            url = _url(path)
            anonymous = await client.request(method, url)
            if anonymous.status_code != 401:
                failures.append(f"{method} {path} anonymous -> {anonymous.status_code}, expected 401")
            for role in Role:
                expected = rule == "any_staff" or (
                    isinstance(rule, Permission) and has_permission(role, rule)
                )
                token = await fresh_token(role)
                response = await client.request(method, url, headers={"Authorization": f"Bearer {token}"})
                allowed = response.status_code not in (401, 403)
                if allowed != expected:
                    failures.append(
                        f"{method} {path} as {role.value}: {response.status_code}, "
                        f"expected {'allow' if expected else 'deny'}"
                    )
                if response.status_code >= 500:
                    failures.append(f"{method} {path} as {role.value}: server error")
        assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_a_row_in_the_matrix(role: Role) -> None:
    assert any(has_permission(role, permission) for permission in Permission)
