from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from compliance.models import KycDocument
from core.clock import FixedClock
from core.config import get_settings
from core.db.session import make_engine, make_session_factory
from core.security import envelope
from core.security.envelope import DEFAULT_ITERATIONS, Keyring
from core.security.keyring import keyring_from_settings
from tests.integration.identity.api_helpers import api_client, make_runtime
from webapp.cli.audit import cli as audit_cli
from webapp.cli.keys import cli as keys_cli
from webapp.cli.staff import cli as staff_cli


@pytest.fixture(autouse=True)
def _each_key_derived_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command here builds its own keyring at the real 600,000 PBKDF2 iterations and derives
    the same few keys again (28 derivations, ~20 s on the busy CI machine): derive each one once."""
    monkeypatch.setattr(envelope, "derive_key", functools.lru_cache(maxsize=None)(envelope.derive_key))


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


async def _api_login_role_limited(url: str, uri: str, keyring: Keyring) -> None:
    """Done-when: a CLI-made staff user signs in over HTTP with password + TOTP and gets role-limited access."""
    import pyotp

    clock = FixedClock()
    clock.advance(seconds=90)
    engine = make_engine(url)
    try:
        runtime = make_runtime(make_session_factory(engine), clock)
        runtime.keyring = lambda: keyring
        async with api_client(runtime) as (_app, client):
            code = pyotp.parse_uri(uri).at(int(clock.now().timestamp()))
            login = await client.post(
                "/api/staff/login",
                json={"email": "ops@kibeti.test", "password": "Long-enough-passw0rd", "totp": code},
            )
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            me = await client.get("/api/staff/me", headers=auth)
            assert me.json()["role"] == "finance"
            assert (await client.get("/api/staff/audit/verify", headers=auth)).status_code == 403
    finally:
        await engine.dispose()


async def _add_kyc_document(url: str, keyring: Keyring) -> None:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            session.add(
                KycDocument(
                    customer_id=3,
                    kind="id_front",
                    content_type="image/jpeg",
                    size=8,
                    sha256="0" * 64,
                    sealed=envelope.seal(b"id-photo", keyring=keyring, context="kyc:3:id_front"),
                    retain_until=FixedClock().now(),
                )
            )
            await session.commit()
    finally:
        await engine.dispose()


async def _open_kyc_document(url: str, keyring: Keyring) -> bytes:
    engine = make_engine(url)
    try:
        async with make_session_factory(engine)() as session:
            document = (await session.execute(select(KycDocument))).scalar_one()
            return envelope.open(document.sealed, keyring=keyring, context="kyc:3:id_front")
    finally:
        await engine.dispose()


# The CLI builds the full Runtime, whose wallet adapter imports web3 (a websockets.legacy deprecation).
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
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

    first = keyring_from_settings(get_settings())
    asyncio.run(_add_kyc_document(cli_env, first))
    seed_envelope = envelope.seal(b"seed", keyring=first, context="wallets:hd-seed:v1")

    monkeypatch.setenv("MASTER_PASSPHRASE", "second master passphrase")
    get_settings.cache_clear()
    refused = runner.invoke(keys_cli, ["rotate"])
    assert refused.exit_code != 0 and "--old-passphrase" in refused.output
    rotated = runner.invoke(keys_cli, ["rotate", "--old-passphrase", "first master passphrase"])
    assert rotated.exit_code == 0, rotated.output
    assert "1 staff TOTP secret" in rotated.output
    assert "Re-sealed 1 compliance_kyc_documents.sealed" in rotated.output
    second = keyring_from_settings(get_settings())
    assert asyncio.run(_open_kyc_document(cli_env, second)) == b"id-photo"
    resealed = runner.invoke(
        keys_cli,
        ["reseal", "--context", "wallets:hd-seed:v1", "--old-passphrase", "first master passphrase"],
        input=seed_envelope,
    )
    assert resealed.exit_code == 0, resealed.output
    new_seed = resealed.output.strip()
    assert envelope.open(new_seed, keyring=second, context="wallets:hd-seed:v1") == b"seed"
    asyncio.run(_login_works(cli_env, uri.group(0)))  # still works under the new key

    asyncio.run(_api_login_role_limited(cli_env, uri.group(0), second))

    # rows sealed under the rotated-out key are checked with the old passphrase, never skipped
    unverifiable = runner.invoke(audit_cli, ["verify"])
    assert unverifiable.exit_code == 1 and "not in the keyring" in unverifiable.output
    verified = runner.invoke(audit_cli, ["verify", "--old-passphrase", "first master passphrase"])
    assert verified.exit_code == 0 and "Audit chain intact." in verified.output
