"""Bad input on staff routes (issue 11 item 15): control characters and overlong values are a
clear 422, never a 500; a locked account answers exactly as a wrong password or an unknown email
does; uvicorn's own error tracebacks go through the same masking as the app's logs."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
import uvicorn.config
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import service as staff_service
from core.clock import FixedClock
from core.logging import configure_logging
from core.ratelimit import Decision, Limit
from core.security.hashing import use_fast_hashing
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import KEYRING, totp_code

use_fast_hashing()
Factory = async_sessionmaker[AsyncSession]
PASSWORD = "Correct-Horse-Battery-9"
EMAIL = "finance@kibeti.test"


class _Unlimited:
    async def hit(self, limit: Limit, key: str) -> Decision:
        return Decision(True, limit.limit, 0)


async def _staff(factory: Factory, clock: FixedClock) -> str:
    async with factory() as session:
        new = await staff_service.create_staff(
            session=session, email=EMAIL, role="finance", password=PASSWORD, keyring=KEYRING,
            clock=clock, actor="test",
        )  # fmt: skip
        await session.commit()
    return new.provisioning_uri


BAD_EMAILS = [
    "admin\x00@kibeti.test",
    "\x00",
    "admin@kibeti.test\x00' OR 1=1 --",
    "admin\n@kibeti.test",
    "admin\r\nX-Injected: 1@kibeti.test",
    "admin\x1b[31m@kibeti.test",
    "admin\x7f@kibeti.test",
    "admin\u200b@kibeti.test",
    "admin\ud800@kibeti.test",
    "a" * 255 + "@kibeti.test",
    "a" * 100_000,
]


@pytest.mark.parametrize("email", BAD_EMAILS, ids=range(len(BAD_EMAILS)))
async def test_control_characters_or_overlong_email_is_422_not_500(
    session_factory: Factory, email: str
) -> None:
    runtime = make_runtime(session_factory, FixedClock())
    runtime.rate_limiter = _Unlimited()
    body = json.dumps({"email": email, "password": "whatever-password", "totp": "123456"})
    async with api_client(runtime) as (_app, client):
        response = await client.post(
            "/api/staff/login", content=body.encode("utf-8", "surrogatepass"),
            headers={"content-type": "application/json"},
        )  # fmt: skip
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"


async def test_nul_in_password_or_refresh_token_is_422_not_500(session_factory: Factory) -> None:
    runtime = make_runtime(session_factory, FixedClock())
    runtime.rate_limiter = _Unlimited()
    async with api_client(runtime) as (_app, client):
        login = await client.post(
            "/api/staff/login", json={"email": EMAIL, "password": "pass\x00word", "totp": "123456"}
        )
        refresh = await client.post("/api/staff/refresh", json={"refresh_token": "kbt_rt_\x00abcdefgh"})
    assert (login.status_code, refresh.status_code) == (422, 422)


async def test_a_locked_account_answers_as_a_wrong_password_and_an_unknown_email(
    session_factory: Factory,
) -> None:
    clock = FixedClock()
    uri = await _staff(session_factory, clock)
    runtime = make_runtime(session_factory, clock)
    runtime.rate_limiter = _Unlimited()

    def shape(response: object) -> tuple[int, dict[str, str], list[str]]:
        body = dict(response.json())  # type: ignore[attr-defined]
        body.pop("request_id")
        headers = sorted(k for k in response.headers if k not in ("x-request-id", "content-length"))  # type: ignore[attr-defined]
        return response.status_code, body, headers  # type: ignore[attr-defined]

    async with api_client(runtime) as (_app, client):
        code = totp_code(uri, clock.now().timestamp())
        unknown = await client.post(
            "/api/staff/login", json={"email": "nobody@kibeti.test", "password": PASSWORD, "totp": code}
        )
        wrong = await client.post(
            "/api/staff/login", json={"email": EMAIL, "password": "wrong-password", "totp": code}
        )
        for _ in range(staff_service.MAX_FAILED_LOGINS):
            await client.post("/api/staff/login", json={"email": EMAIL, "password": "wrong", "totp": code})
        locked = await client.post(
            "/api/staff/login", json={"email": EMAIL, "password": PASSWORD, "totp": code}
        )
    assert shape(unknown) == shape(wrong) == shape(locked)
    assert shape(locked)[:2] == (401, {"code": "login_failed", "message": "wrong email, password or code"})


def test_uvicorn_error_tracebacks_are_masked_json() -> None:
    """uvicorn installs its plain-text handlers, then imports the app (which configures logging)."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in names}
    root = logging.getLogger()
    root_saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        configure_logging(stream=stream)
        try:
            raise RuntimeError("insert failed for +254712345678 with Bearer abc.def.ghi")
        except RuntimeError as exc:
            logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=exc)
    finally:
        for name, (handlers, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.propagate = propagate
        root.handlers[:], _ = root_saved[0], root.setLevel(root_saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1, stream.getvalue()
    record = lines[0]
    assert record["logger"] == "uvicorn.error" and "RuntimeError" in record["exception"]
    assert "+254712345678" not in stream.getvalue() and "abc.def.ghi" not in stream.getvalue()
    assert "+254712***678" in record["exception"]
