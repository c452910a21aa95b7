from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import service as staff_service
from core.clock import FixedClock
from core.identity import service as identity
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import KEYRING, FakeNotifier, totp_code

Factory = async_sessionmaker[AsyncSession]
PASSWORD = "Correct-Horse-Battery-9"


async def make_staff(factory: Factory, clock: FixedClock, email: str, role: str) -> str:
    async with factory() as session:
        new = await staff_service.create_staff(
            session=session,
            email=email,
            role=role,
            password=PASSWORD,
            keyring=KEYRING,
            clock=clock,
            actor="test",
        )
        await session.commit()
    return new.provisioning_uri


async def test_login_me_refresh_logout_over_http(pg_session_factory: Factory) -> None:
    clock = FixedClock()
    uri = await make_staff(pg_session_factory, clock, "support@kibeti.test", "support")
    runtime = make_runtime(pg_session_factory, clock)
    async with api_client(runtime) as (_app, client):
        code = totp_code(uri, clock.now().timestamp())
        bad = await client.post(
            "/api/staff/login",
            json={"email": "support@kibeti.test", "password": "nope-nope-nope", "totp": code},
        )
        assert bad.status_code == 401 and bad.json()["code"] == "login_failed"
        ok = await client.post(
            "/api/staff/login", json={"email": "support@kibeti.test", "password": PASSWORD, "totp": code}
        )
        assert ok.status_code == 200, ok.text
        tokens = ok.json()
        assert tokens["expires_in"] <= 15 * 60 and tokens["token_type"] == "bearer"
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = await client.get("/api/staff/me", headers=auth)
        assert me.status_code == 200 and me.json()["role"] == "support"
        assert "customers.reset_pin" in me.json()["permissions"]
        assert (await client.get("/api/staff/audit/verify", headers=auth)).status_code == 403
        assert (await client.get("/api/staff/me")).status_code == 401
        assert (
            await client.get("/api/staff/me", headers={"Authorization": "Bearer x.y.z"})
        ).status_code == 401
        rotated = await client.post("/api/staff/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200
        reused = await client.post("/api/staff/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reused.status_code == 401 and reused.json()["code"] == "refresh_reused"
        new_auth = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
        assert (await client.get("/api/staff/me", headers=new_auth)).status_code == 401  # family revoked
        clock.advance(seconds=30)
        again = await client.post(
            "/api/staff/login",
            json={
                "email": "support@kibeti.test",
                "password": PASSWORD,
                "totp": totp_code(uri, clock.now().timestamp()),
            },
        )
        auth = {"Authorization": f"Bearer {again.json()['access_token']}"}
        assert (await client.post("/api/staff/logout", headers=auth)).status_code == 204
        assert (await client.get("/api/staff/me", headers=auth)).status_code == 401


async def test_staff_pin_reset_starts_cool_down(pg_session_factory: Factory) -> None:
    clock = FixedClock()
    uri = await make_staff(pg_session_factory, clock, "help@kibeti.test", "support")
    async with pg_session_factory() as session:
        customer = await identity.register_customer(
            session=session,
            phone="0712345678",
            name="Otieno",
            national_id="12345678",
            language="en",
            pin="4821",
        )
        await session.commit()
    runtime = make_runtime(pg_session_factory, clock)
    runtime.notifier = sms = FakeNotifier()
    async with api_client(runtime) as (_app, client):
        code = totp_code(uri, clock.now().timestamp())
        login = await client.post(
            "/api/staff/login", json={"email": "help@kibeti.test", "password": PASSWORD, "totp": code}
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        url = f"/api/staff/customers/{customer.id}/reset-pin"
        chosen = await client.post(url, json={"new_pin": "7395", "kyc_rechecked": True}, headers=auth)
        assert chosen.status_code == 422  # staff never choose a customer's PIN
        assert not sms.sent
        done = await client.post(url, json={"kyc_rechecked": True}, headers=auth)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "code_sent"
        assert done.json()["withdrawals_allowed_at"].startswith("2026-01-02T08:00")
        assert sms.last_code()  # the customer got a one-time code by SMS
        missing = await client.post(
            "/api/staff/customers/999999/reset-pin", json={"kyc_rechecked": True}, headers=auth
        )
        assert missing.status_code == 404


@pytest.mark.parametrize(
    ("headers", "content", "expected"),
    [
        ({"content-type": "text/plain"}, b"hello", 422),
        ({"content-type": "application/json"}, b"{not json", 422),
        ({"content-type": "application/json"}, b"x" * (1024 * 1024 + 1), 413),
    ],
)
async def test_bad_input_is_a_clear_error_never_500(
    pg_session_factory: Factory, headers: dict[str, str], content: bytes, expected: int
) -> None:
    runtime = make_runtime(pg_session_factory, FixedClock())
    async with api_client(runtime) as (_app, client):
        response = await client.post("/api/staff/login", content=content, headers=headers)
        assert response.status_code == expected
        assert "request_id" in response.json()
        assert response.headers["x-request-id"]


async def test_validation_errors_do_not_echo_input(pg_session_factory: Factory) -> None:
    runtime = make_runtime(pg_session_factory, FixedClock())
    async with api_client(runtime) as (_app, client):
        response = await client.post(
            "/api/staff/login", json={"email": "a@b.c", "password": "S3cretPassw0rd!", "totp": "12ab56"}
        )
        assert response.status_code == 422
        assert "S3cretPassw0rd!" not in response.text and "12ab56" not in response.text


async def test_login_rate_limited_with_retry_after(pg_session_factory: Factory) -> None:
    runtime = make_runtime(pg_session_factory, FixedClock())
    async with api_client(runtime) as (_app, client):
        body = {"email": "x@kibeti.test", "password": "whatever-password", "totp": "123456"}
        statuses = [(await client.post("/api/staff/login", json=body)).status_code for _ in range(11)]
        assert statuses[:10] == [401] * 10
        limited = await client.post("/api/staff/login", json=body)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
