"""Manual FX rates are proposed and approved by signed-in finance staff (the staff API, or the CLI
after a password + TOTP sign-in), two different people; ids typed on a command line count for nothing."""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Iterator

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.auth import sessions
from core.auth.models import StaffUser
from core.clock import FixedClock
from core.config import get_settings
from core.db.session import make_engine, make_session_factory
from core.fx.models import FxOverride
from core.security import envelope
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.identity.helpers import SECRET_KEY
from webapp.cli.fx import cli as fx_cli
from webapp.cli.staff import cli as staff_cli

PASSWORD = "Long-enough-passw0rd"


async def _token(factory, clock: FixedClock, role: str, email: str) -> dict[str, str]:
    async with factory() as session:
        staff = StaffUser(email=email, role=role, password_hash="x", totp_secret="x", last_totp_step=0,
                          active=True, failed_logins=0, created_at=clock.now())  # fmt: skip
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=clock, secret_key=SECRET_KEY)
        await session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


async def test_staff_api_maker_checker(session_factory) -> None:
    clock = FixedClock()
    maker = await _token(session_factory, clock, "finance", "maker@kibeti.test")
    checker = await _token(session_factory, clock, "finance", "checker@kibeti.test")
    support = await _token(session_factory, clock, "support", "support@kibeti.test")
    base = "/api/staff/fx/overrides"
    async with api_client(make_runtime(session_factory, clock)) as (_app, client):
        body = {"pair": "USDT/KES", "rate": "131.25", "reason": "feed glitch", "minutes": 30}
        assert (await client.post(base, json=body, headers=support)).status_code == 403
        assert (await client.post(base, json={**body, "rate": 131.25}, headers=maker)).status_code == 422
        unknown = await client.post(base, json={**body, "pair": "DOGE/KES"}, headers=maker)
        assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_pair"
        proposed = await client.post(base, json=body, headers=maker)
        assert proposed.status_code == 201, proposed.text
        assert proposed.json()["status"] == "pending" and proposed.json()["valid_until"] is None
        override_id = proposed.json()["id"]
        own = await client.post(f"{base}/{override_id}/approve", headers=maker)
        assert own.status_code == 409 and own.json()["code"] == "override_not_allowed"
        assert (await client.post(f"{base}/{override_id}/approve", headers=support)).status_code == 403
        assert (await client.post(f"{base}/999999/approve", headers=checker)).status_code == 404
        approved = await client.post(f"{base}/{override_id}/approve", headers=checker)
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        assert approved.json()["maker_id"] != approved.json()["checker_id"]
        pending = await client.get(f"{base}?status=pending", headers=checker)
        assert pending.status_code == 200 and pending.json() == []


@pytest.fixture
def cli_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("MASTER_PASSPHRASE", "fx override test passphrase")
    # every command derives the same keyring at 600,000 PBKDF2 iterations: derive each key once
    monkeypatch.setattr(envelope, "derive_key", functools.lru_cache(maxsize=None)(envelope.derive_key))
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


def _override_rows(url: str) -> list[FxOverride]:
    async def read() -> list[FxOverride]:
        engine = make_engine(url)
        async with make_session_factory(engine)() as session:
            rows = list((await session.execute(select(FxOverride).order_by(FxOverride.id))).scalars())
        await engine.dispose()
        return rows

    return asyncio.run(read())


# The CLI builds the full Runtime, whose wallet adapter imports web3 (a websockets.legacy deprecation).
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cli_signs_staff_in_and_takes_no_ids(cli_env: str) -> None:
    runner = CliRunner()
    uris = {}
    for email in ("maker@kibeti.test", "checker@kibeti.test"):
        made = runner.invoke(staff_cli, ["create", "--email", email, "--role", "finance"],
                             env={"KIBETI_STAFF_PASSWORD": PASSWORD})  # fmt: skip
        assert made.exit_code == 0, made.output
        uris[email] = re.search(r"otpauth://totp/\S+", made.output).group(0)  # type: ignore[union-attr]

    def code(email: str) -> str:
        return pyotp.parse_uri(uris[email]).at(int(time.time()))  # type: ignore[union-attr]

    ids = runner.invoke(fx_cli, ["override", "propose", "USDT/KES", "1", "--reason", "x", "--staff-id", "9998",
                                 "--role", "finance"])  # fmt: skip
    assert ids.exit_code == 2 and "No such option" in ids.output
    wrong = runner.invoke(fx_cli, ["override", "propose", "USDT/KES", "1", "--reason", "x",
                                   "--email", "maker@kibeti.test", "--password", PASSWORD, "--totp", "000000"])  # fmt: skip
    assert wrong.exit_code == 1 and "wrong email, password or code" in wrong.output
    assert _override_rows(cli_env) == []

    proposed = runner.invoke(fx_cli, ["override", "propose", "USDT/KES", "131.25", "--reason", "feed glitch",
                                      "--email", "maker@kibeti.test", "--totp", code("maker@kibeti.test")],
                             input=f"{PASSWORD}\n")  # fmt: skip
    assert proposed.exit_code == 0 and "needs a second approver" in proposed.output, proposed.output
    (row,) = _override_rows(cli_env)
    approved = runner.invoke(fx_cli, ["override", "approve", str(row.id), "--email", "checker@kibeti.test",
                                      "--password", PASSWORD, "--totp", code("checker@kibeti.test")])  # fmt: skip
    assert approved.exit_code == 0 and "in force until" in approved.output, approved.output
    (row,) = _override_rows(cli_env)
    assert row.status == "approved" and row.maker_id != row.checker_id
