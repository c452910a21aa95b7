"""Shared by the staff portal's tests: staff users with known passwords and TOTP secrets, a client
that signs in through the sign-in form (CSRF token and all)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import service as staff_service
from core.clock import FixedClock
from core.runtime import Runtime
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import KEYRING

PASSWORD = "Portal-test-pass-2026!"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class StaffLogin:
    id: int
    email: str
    role: str
    secret: str


async def make_staff(factory: async_sessionmaker[AsyncSession], clock: FixedClock, role: str) -> StaffLogin:
    async with factory() as session:
        new = await staff_service.create_staff(
            session=session,
            email=f"{role}-{clock.now().timestamp():.0f}@kibeti.test",
            role=role,
            password=PASSWORD,
            keyring=KEYRING,
            clock=clock,
            actor="test",
        )
        await session.commit()
        secret = pyotp.parse_uri(new.provisioning_uri).secret  # type: ignore[union-attr]
        return StaffLogin(id=new.staff.id, email=new.staff.email, role=role, secret=secret)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def switch_language(client: httpx.AsyncClient, language: str) -> None:
    """The signed-in staff member's portal language, switched as the layout's form does."""
    page = await client.get("/staff")
    switched = await client.post(
        "/staff/language", data={"csrf_token": csrf_of(page.text), "language": language}
    )
    assert switched.status_code == 303


async def sign_in(client: httpx.AsyncClient, clock: FixedClock, staff: StaffLogin) -> httpx.Response:
    """Sign in through the form; moves the clock one TOTP step so a code is never replayed."""
    clock.advance(seconds=30)
    form = await client.get("/staff/sign-in")
    code = pyotp.TOTP(staff.secret).at(clock.now())
    return await client.post(
        "/staff/sign-in",
        data={"csrf_token": csrf_of(form.text), "email": staff.email, "password": PASSWORD, "totp": code},
    )


@asynccontextmanager
async def portal_client(
    factory: async_sessionmaker[AsyncSession], clock: FixedClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, Runtime]]:
    runtime = make_runtime(factory, clock)
    async with api_client(runtime) as (app, client):
        yield app, client, runtime
