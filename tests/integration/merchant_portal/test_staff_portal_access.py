"""Staff routes over the portals, on both databases: merchants.manage invites a dashboard user
(password and authenticator URI answered once; that user can sign in), customers.write ends every
/app device session of a customer; each is audited; other roles are refused (the generated matrix
in tests/integration/identity/test_authz_matrix.py covers every role; this names the rules)."""

from __future__ import annotations

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit.models import AuditEntry
from core.auth import sessions
from core.auth.models import StaffUser
from core.auth.permissions import Permission
from core.clock import FixedClock
from core.devices import service as devices
from core.merchant_users import service as merchant_users
from core.merchants import service as merchants
from tests import factories
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import KEYRING, SECRET_KEY
from tests.integration.identity.test_authz_matrix import rule_of, staff_routes
from webapp.app import create_app

Factory = async_sessionmaker[AsyncSession]
INVITE = "/api/staff/merchants/{merchant_id}/dashboard-users"
REVOKE = "/api/staff/customers/{customer_id}/portal-sessions/revoke"


async def _token(factory: Factory, clock: FixedClock, role: str) -> dict[str, str]:
    async with factory() as session:
        staff = StaffUser(email=f"{role}@kibeti.test", role=role, password_hash="x", totp_secret="x",
                          last_totp_step=0, active=True, failed_logins=0, created_at=clock.now())  # fmt: skip
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def _actions(factory: Factory, action: str) -> list[AuditEntry]:
    async with factory() as session:
        return list((await session.execute(select(AuditEntry).where(AuditEntry.action == action))).scalars())


def test_the_routes_carry_the_permissions_they_need() -> None:
    rules = {path: rule_of(route) for path, route, _ in staff_routes(create_app(run_scheduler_inside=False))}
    assert rules[INVITE] == Permission.MERCHANTS_MANAGE
    assert rules[REVOKE] == Permission.CUSTOMERS_WRITE


async def test_staff_invite_a_dashboard_user_who_can_then_sign_in(session_factory: Factory) -> None:
    clock = FixedClock()
    admin, support = (
        await _token(session_factory, clock, "admin"),
        await _token(session_factory, clock, "support"),
    )
    async with session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Duka la Amani", actor="staff:1", clock=clock, settlement_phone="0712000001"
        )
        await session.commit()
        merchant_id = merchant.id
    url = INVITE.format(merchant_id=merchant_id)
    body = {"email": "Owner@Amani.test", "role": "owner"}
    async with api_client(make_runtime(session_factory, clock)) as (_app, client):
        assert (await client.post(url, json=body, headers=support)).status_code == 403
        assert (await client.post(url, json=body)).status_code == 401
        made = await client.post(url, json=body, headers=admin)
        assert made.status_code == 201, made.text
        answer = made.json()
        assert (answer["email"], answer["role"], answer["merchant_id"]) == (
            "owner@amani.test",
            "owner",
            merchant_id,
        )
        assert answer["authenticator_uri"].startswith("otpauth://totp/") and len(answer["password"]) >= 12
        again = await client.post(url, json=body, headers=admin)
        assert again.status_code == 409 and again.json()["code"] == "merchant_user_exists"
        unknown = await client.post(
            INVITE.format(merchant_id=999_999), json={**body, "email": "x@y.test"}, headers=admin
        )
        assert unknown.status_code == 404 and unknown.json()["code"] == "merchant_not_found"
        bad = await client.post(url, json={"email": "nobody", "role": "boss"}, headers=admin)
        assert bad.status_code == 422
    totp = pyotp.parse_uri(answer["authenticator_uri"])
    assert isinstance(totp, pyotp.TOTP)
    async with session_factory() as session:
        signed_in = await merchant_users.sign_in(
            session=session, email="owner@amani.test", password=answer["password"], code=totp.at(clock.now()),
            keyring=KEYRING, now=clock.now(),
        )  # fmt: skip
        assert signed_in.user_id == answer["user_id"]
        await session.rollback()
    invited = await _actions(session_factory, "merchant_user.invited")
    assert [e.subject for e in invited] == [f"merchant:{merchant_id}"]
    assert invited[0].actor.startswith("staff:")


async def test_support_signs_a_customer_out_of_every_device(session_factory: Factory) -> None:
    clock = FixedClock()
    support, finance = (
        await _token(session_factory, clock, "support"),
        await _token(session_factory, clock, "finance"),
    )
    async with session_factory() as session:
        customer = await factories.customer(session)
        other = await factories.customer(session, phone="0712345679", national_id="87654321")
        for label in ("Chrome / Android", "Firefox / Linux"):
            await devices.create(session, customer_id=customer.id, label=label, now=clock.now())
        kept = await devices.create(session, customer_id=other.id, label="Chrome / Android", now=clock.now())
        await session.commit()
        customer_id, other_id, kept_id = customer.id, other.id, kept.id
    url = REVOKE.format(customer_id=customer_id)
    async with api_client(make_runtime(session_factory, clock)) as (_app, client):
        assert (await client.post(url, headers=finance)).status_code == 403
        done = await client.post(url, headers=support)
        assert done.status_code == 200, done.text
        assert done.json() == {"customer_id": customer_id, "revoked": 2}
        assert (await client.post(url, headers=support)).json()["revoked"] == 0
        missing = await client.post(REVOKE.format(customer_id=999_999), headers=support)
        assert missing.status_code == 404
    async with session_factory() as session:
        assert await devices.active_devices(session, customer_id=customer_id, now=clock.now()) == []
        assert await devices.live(session, device_id=kept_id, now=clock.now()) is not None
        rows = await devices.active_devices(session, customer_id=other_id, now=clock.now())
        assert [row.id for row in rows] == [kept_id]
    revoked = await _actions(session_factory, "customer.portal_sessions_revoked")
    assert [(e.subject, e.details["revoked"]) for e in revoked] == [
        (f"customer:{customer_id}", 2),
        (f"customer:{customer_id}", 0),
    ]
    assert all(e.actor.startswith("staff:") for e in revoked)
