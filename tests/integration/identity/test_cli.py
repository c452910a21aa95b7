from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from core.clock import FixedClock
from core.config import get_settings
from core.db.session import make_engine, make_session_factory
from core.security.envelope import DEFAULT_ITERATIONS
from core.security.keyring import keyring_from_settings
from webapp.cli.audit import cli as audit_cli
from webapp.cli.keys import cli as keys_cli
from webapp.cli.staff import cli as staff_cli


@pytest.fixture
def cli_env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("MASTER_PASSPHRASE", "first master passphrase")
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


async def _login_works(url: str, uri: str) -> None:
    import pyotp

    from core.auth import service

    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            clock = FixedClock()
            code = pyotp.parse_uri(uri).at(int(clock.now().timestamp()))
            pair = await service.login(
                session=session,
                email="ops@kibeti.test",
                password="Long-enough-passw0rd",
                totp_code=code,
                clock=clock,
                secret_key="k" * 40,
                keyring=keyring_from_settings(get_settings()),
            )
            assert pair.access_token
    finally:
        await engine.dispose()


def test_staff_create_keys_rotate_audit_verify(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_ITERATIONS >= 600_000
    runner = CliRunner()
    created = runner.invoke(
        staff_cli,
        ["create", "--email", "ops@kibeti.test", "--role", "finance"],
        env={"KIBETI_STAFF_PASSWORD": "Long-enough-passw0rd"},
    )
    assert created.exit_code == 0, created.output
    uri = re.search(r"otpauth://totp/\S+", created.output)
    assert uri is not None
    asyncio.run(_login_works(cli_env, uri.group(0)))

    weak = runner.invoke(
        staff_cli,
        ["create", "--email", "x@kibeti.test", "--role", "admin"],
        env={"KIBETI_STAFF_PASSWORD": "short"},
    )
    assert weak.exit_code != 0

    monkeypatch.setenv("MASTER_PASSPHRASE", "second master passphrase")
    get_settings.cache_clear()
    refused = runner.invoke(keys_cli, ["rotate"])
    assert refused.exit_code != 0 and "--old-passphrase" in refused.output
    rotated = runner.invoke(keys_cli, ["rotate", "--old-passphrase", "first master passphrase"])
    assert rotated.exit_code == 0, rotated.output
    assert "1 staff TOTP secret" in rotated.output
    asyncio.run(_login_works(cli_env, uri.group(0)))  # still works under the new key

    verified = runner.invoke(audit_cli, ["verify"])
    assert verified.exit_code == 0 and "Audit chain intact." in verified.output
