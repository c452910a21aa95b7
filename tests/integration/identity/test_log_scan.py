"""Run a full flow with JSON logging on, capture every line, and assert no personal data or secret
appears in clear: phone numbers, national IDs, PINs, OTPs, passwords, tokens, API keys, TOTP secrets.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import service as staff_service
from core.clock import FixedClock
from core.identity import otp as otps
from core.identity import service as identity
from core.identity.errors import OtpInvalid, PinIncorrect, PinLocked
from core.logging import configure_logging
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import KEYRING, FakeNotifier, add_merchants, totp_code

Factory = async_sessionmaker[AsyncSession]
PHONE_LOCAL, PHONE_DIGITS = "0712 345 678", "712345678"
NATIONAL_ID, PIN, NEW_PIN, PASSWORD = "29384756", "4821", "7395", "Sup3r-Secret-Passw0rd"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(stream=stream, level="DEBUG")
    for name in ("sqlalchemy", "asyncio", "aiosqlite", "hpack", "httpcore"):  # libraries' own debug noise
        logging.getLogger(name).setLevel(logging.WARNING)
    yield stream
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "kibeti-json"]
    root.setLevel(logging.WARNING)


async def test_no_personal_data_or_secret_in_logs(pg_session_factory: Factory, captured: io.StringIO) -> None:
    clock, notifier = FixedClock(), FakeNotifier()
    secrets_seen: list[str] = [PHONE_DIGITS, NATIONAL_ID, PASSWORD]
    async with pg_session_factory() as session:
        customer = await identity.register_customer(
            session=session,
            phone=PHONE_LOCAL,
            name="Achieng",
            national_id=NATIONAL_ID,
            language="sw",
            pin=PIN,
        )
        for wrong in ("1357", "2468", "9753"):
            with pytest.raises((PinIncorrect, PinLocked)):
                await identity.verify_pin(
                    limiter=None, session=session, customer_id=customer.id, pin=wrong, clock=clock
                )
            secrets_seen.append(wrong)
        await otps.issue_otp(
            limiter=None,
            session=session,
            notifier=notifier,
            phone=PHONE_LOCAL,
            purpose="pin_reset",
            clock=clock,
        )
        code = notifier.last_code()
        wrong_code = "000000" if code != "000000" else "111111"
        with pytest.raises(OtpInvalid):
            await otps.verify_otp(
                limiter=None,
                session=session,
                phone=PHONE_LOCAL,
                purpose="pin_reset",
                code=wrong_code,
                clock=clock,
            )
        secrets_seen += [code, wrong_code]
        new = await staff_service.create_staff(
            session=session,
            email="support@kibeti.test",
            role="support",
            password=PASSWORD,
            keyring=KEYRING,
            clock=clock,
            actor="test",
        )
        admin = await staff_service.create_staff(
            session=session,
            email="admin@kibeti.test",
            role="admin",
            password=PASSWORD,
            keyring=KEYRING,
            clock=clock,
            actor="test",
        )
        await add_merchants(session, 7)
        await session.commit()
    for uri in (new.provisioning_uri, admin.provisioning_uri):
        secrets_seen.append(parse_qs(urlparse(uri).query)["secret"][0])

    runtime = make_runtime(pg_session_factory, clock)
    runtime.notifier = staff_reset_sms = FakeNotifier()
    async with api_client(runtime) as (_app, client):
        configure_logging(stream=captured, level="DEBUG")  # the app configured stdout; capture again
        totp = totp_code(new.provisioning_uri, clock.now().timestamp())
        wrong = await client.post(
            "/api/staff/login",
            json={"email": "support@kibeti.test", "password": "Wrong-Passw0rd-x", "totp": totp},
        )
        assert wrong.status_code == 401
        login = (
            await client.post(
                "/api/staff/login", json={"email": "support@kibeti.test", "password": PASSWORD, "totp": totp}
            )
        ).json()
        secrets_seen += [login["access_token"], login["refresh_token"], totp]
        auth = {"Authorization": f"Bearer {login['access_token']}"}
        await client.get("/api/staff/me", headers=auth)
        await client.post(
            f"/api/staff/customers/{customer.id}/reset-pin",
            json={"kyc_rechecked": True},
            headers=auth,
        )
        secrets_seen.append(staff_reset_sms.last_code())
        rotated = (
            await client.post("/api/staff/refresh", json={"refresh_token": login["refresh_token"]})
        ).json()
        secrets_seen += [rotated["access_token"], rotated["refresh_token"]]
        await client.post("/api/staff/refresh", json={"refresh_token": login["refresh_token"]})  # reuse
        admin_totp = totp_code(admin.provisioning_uri, clock.now().timestamp())
        admin_login = (
            await client.post(
                "/api/staff/login",
                json={"email": "admin@kibeti.test", "password": PASSWORD, "totp": admin_totp},
            )
        ).json()
        secrets_seen += [admin_login["access_token"], admin_login["refresh_token"]]
        key = await client.post(
            "/api/staff/api-keys",
            json={"merchant_id": 7, "name": "shop", "scopes": ["payments:read"]},
            headers={"Authorization": f"Bearer {admin_login['access_token']}"},
        )
        secrets_seen.append(key.json()["api_key"])
        await client.post(
            "/api/staff/login",
            content=b"{bad json " + PIN.encode(),
            headers={"content-type": "application/json"},
        )

    lines = [line for line in captured.getvalue().splitlines() if line.strip()]
    assert len(lines) >= 10, "the flow should have produced log lines"
    events = [json.loads(line) for line in lines]  # every line is JSON
    assert any("request_id" in event for event in events)
    # Timestamps and request durations ("ms": 2468 on a busy machine) hold digits by chance; drop them
    # before scanning for short secrets like PINs.
    text = "\n".join(
        json.dumps({key: value for key, value in event.items() if key not in ("timestamp", "ms")})
        for event in events
    )
    # Short numeric secrets are matched as whole tokens: random hex ids (request_id, staff_session)
    # contain any four digits by chance often enough to make a substring check flaky.
    leaked = [
        secret
        for secret in secrets_seen
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text)
    ]
    assert not leaked, f"found in logs: {leaked}"
