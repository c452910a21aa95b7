"""Staff portal security over HTTP: sign-in with TOTP, CSRF refusal, a new session id at sign-in
(no fixation), the idle timeout, 403 with an audit row, a disabled user signed out at once."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit.models import AuditEntry
from core.auth import service as staff_service
from core.clock import FixedClock
from tests.integration.staff_portal.portal_helpers import csrf_of, make_staff, portal_client, sign_in

Factory = async_sessionmaker[AsyncSession]
COOKIE = "kibeti_staff"


async def test_signed_out_visitor_is_sent_to_sign_in(session_factory: Factory) -> None:
    async with portal_client(session_factory, FixedClock()) as (_app, client, _rt):
        response = await client.get("/staff?x=1")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/sign-in")
        page = await client.get("/staff/sign-in")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/staff" in cookie


async def test_sign_in_with_totp_starts_a_new_session(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "compliance")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await client.get("/staff/sign-in")
        anonymous = client.cookies[COOKIE]
        response = await sign_in(client, clock, staff)
        assert response.status_code == 303 and response.headers["location"] == "/staff"
        assert client.cookies[COOKIE] != anonymous  # a new session id, not the one handed out before
        dashboard = await client.get("/staff")
        assert dashboard.status_code == 200
        assert staff.email in dashboard.text
        # a fixed (pre-sign-in) cookie planted by someone else is not signed in
        other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        other.cookies.set(COOKIE, anonymous, path="/staff")
        assert (await other.get("/staff")).status_code == 303


async def test_wrong_code_is_refused_beside_the_form(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "support")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        form = await client.get("/staff/sign-in")
        response = await client.post(
            "/staff/sign-in",
            data={"csrf_token": csrf_of(form.text), "email": staff.email, "password": "nope", "totp": "12"},
        )
        assert response.status_code == 422
        assert 'aria-invalid="true"' in response.text and "Traceback" not in response.text
        response = await client.post(
            "/staff/sign-in",
            data={"csrf_token": csrf_of(form.text), "email": staff.email, "password": "x", "totp": "123456"},
        )
        assert response.status_code == 401
        assert "Wrong email, password or code." in response.text


async def test_posts_without_the_csrf_token_are_refused(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "compliance")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await client.get("/staff/sign-in")
        refused = await client.post(
            "/staff/sign-in", data={"email": staff.email, "password": "x", "totp": "1"}
        )
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
        await sign_in(client, clock, staff)
        refused = await client.post("/staff/sign-out", data={"csrf_token": "0" * 64})
        assert refused.status_code == 403
        assert (await client.get("/staff")).status_code == 200  # still signed in


async def test_idle_session_ends(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "finance")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, staff)
        clock.advance(minutes=14)
        assert (await client.get("/staff")).status_code == 200  # activity keeps it alive
        clock.advance(minutes=14)
        assert (await client.get("/staff")).status_code == 200
        clock.advance(minutes=16)
        ended = await client.get("/staff")
        assert ended.status_code == 303
        assert "ended=idle" in ended.headers["location"]


async def test_role_without_permission_gets_403_and_an_audit_row(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "support")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, staff)
        refused = await client.get("/staff/audit")
        assert refused.status_code == 403
        assert "Your role may not do this." in refused.text
        assert 'href="/staff/audit"' not in (await client.get("/staff")).text  # not in the navigation
    async with session_factory() as session:
        rows = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.portal_denied"))
        ).all()
        assert [(r.actor, r.details["path"]) for r in rows] == [(f"staff:{staff.id}", "/staff/audit")]


async def test_disabled_staff_is_signed_out_on_the_next_request(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "compliance")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, staff)
        assert (await client.get("/staff")).status_code == 200
        async with session_factory() as session:
            await staff_service.set_active(
                session=session, staff_id=staff.id, active=False, clock=clock, actor="test"
            )
            await session.commit()
        response = await client.get("/staff")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/sign-in")


async def test_sign_out_revokes_the_session(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "admin")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, staff)
        cookie = client.cookies[COOKIE]
        page = await client.get("/staff")
        assert (
            await client.post("/staff/sign-out", data={"csrf_token": csrf_of(page.text)})
        ).status_code == 303
        replay = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        replay.cookies.set(COOKIE, cookie, path="/staff")
        assert (await replay.get("/staff")).status_code == 303  # the old cookie is dead server-side


async def test_error_pages_have_no_traceback(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "admin")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, staff)
        missing = await client.get("/staff/no-such-page")
        assert missing.status_code == 404
        assert "text/html" in missing.headers["content-type"]
        assert "There is no such page." in missing.text


async def test_the_viewer_chooses_swahili(session_factory: Factory) -> None:
    clock = FixedClock()
    staff = await make_staff(session_factory, clock, "compliance")
    async with portal_client(session_factory, clock) as (_app, client, _rt):
        await sign_in(client, clock, staff)
        page = await client.get("/staff")
        switched = await client.post(
            "/staff/language",
            data={"csrf_token": csrf_of(page.text), "language": "sw"},
            headers={"referer": "http://testserver/staff/kyc"},
        )
        assert switched.status_code == 303 and switched.headers["location"] == "/staff/kyc"
        queue = await client.get("/staff/kyc")
        assert '<html lang="sw">' in queue.text
        assert "Foleni ya KYC" in queue.text and "Hakuna kinachosubiri ukaguzi." in queue.text
        dashboard = await client.get("/staff")
        assert "Dashibodi" in dashboard.text
