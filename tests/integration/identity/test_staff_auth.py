from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import api_keys, service, sessions
from core.auth.errors import (
    AccountLocked,
    ApiKeyInvalid,
    ApiKeyScopeDenied,
    InvalidEmail,
    LoginFailed,
    RefreshReused,
    TokenInvalid,
    WeakPassword,
)
from core.clock import FixedClock
from core.merchants.errors import UnknownMerchant
from tests.integration.identity.helpers import KEYRING, SECRET_KEY, add_merchants, totp_code

Factory = async_sessionmaker[AsyncSession]
PASSWORD = "Tr0ub4dor&3-kibeti-staff"


async def create(session: AsyncSession, clock: FixedClock, role: str = "support") -> str:
    new = await service.create_staff(
        session=session,
        email="Amina@Kibeti.test",
        role=role,
        password=PASSWORD,
        keyring=KEYRING,
        clock=clock,
        actor="cli",
    )
    await session.commit()
    assert new.provisioning_uri.startswith("otpauth://totp/")
    assert new.staff.totp_secret.startswith("kbt-env:v1:")
    return new.provisioning_uri


async def login(
    session: AsyncSession, clock: FixedClock, uri: str, password: str = PASSWORD
) -> sessions.TokenPair:
    return await service.login(
        session=session,
        email="amina@kibeti.test",
        password=password,
        totp_code=totp_code(uri, clock.now().timestamp()),
        clock=clock,
        secret_key=SECRET_KEY,
        keyring=KEYRING,
    )


async def test_password_policy(session_factory: Factory) -> None:
    async with session_factory() as session:
        with pytest.raises(WeakPassword):
            await service.create_staff(
                session=session,
                email="a@k.test",
                role="admin",
                password="short",
                keyring=KEYRING,
                clock=FixedClock(),
                actor="cli",
            )


@pytest.mark.parametrize("email", ["notanemail", "@kibeti.test", "amina@", "  "])
async def test_a_malformed_email_is_a_named_refusal(session_factory: Factory, email: str) -> None:
    async with session_factory() as session:
        with pytest.raises(InvalidEmail) as refused:
            await service.create_staff(
                session=session, email=email, role="admin", password=PASSWORD, keyring=KEYRING,
                clock=FixedClock(), actor="cli",
            )  # fmt: skip
    assert refused.value.code == "invalid_email" and not isinstance(refused.value, ValueError)


async def test_login_refresh_rotation_and_reuse_revokes_family(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        uri = await create(session, clock)
        first = await login(session, clock, uri)
        await session.commit()
        staff = await sessions.authenticate(
            session=session, access_token=first.access_token, secret_key=SECRET_KEY, clock=clock
        )
        assert staff.role == "support"
        second = await sessions.refresh(
            session=session, refresh_token=first.refresh_token, clock=clock, secret_key=SECRET_KEY
        )
        await session.commit()
        assert second.session_id == first.session_id and second.refresh_token != first.refresh_token
        with pytest.raises(RefreshReused):
            await sessions.refresh(
                session=session, refresh_token=first.refresh_token, clock=clock, secret_key=SECRET_KEY
            )
        await session.commit()
        # the whole family is dead: the newer refresh token and the access tokens too
        with pytest.raises(TokenInvalid):
            await sessions.refresh(
                session=session, refresh_token=second.refresh_token, clock=clock, secret_key=SECRET_KEY
            )
        with pytest.raises(TokenInvalid):
            await sessions.authenticate(
                session=session, access_token=second.access_token, secret_key=SECRET_KEY, clock=clock
            )
        with pytest.raises(TokenInvalid):
            await sessions.refresh(
                session=session, refresh_token="kbt_rt_made-up", clock=clock, secret_key=SECRET_KEY
            )


async def test_totp_replay_and_wrong_code_refused_then_lockout(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        uri = await create(session, clock)
        await login(session, clock, uri)
        await session.commit()
        with pytest.raises(LoginFailed):  # same TOTP code again: replay
            await login(session, clock, uri)
        clock.advance(seconds=30)
        with pytest.raises(LoginFailed):
            await login(session, clock, uri, password="Wrong-password-123")
        with pytest.raises(LoginFailed):
            await service.login(
                session=session,
                email="nobody@kibeti.test",
                password=PASSWORD,
                totp_code="123456",
                clock=clock,
                secret_key=SECRET_KEY,
                keyring=KEYRING,
            )
        for _ in range(3):  # failures 3..5 (replay and wrong password were 1 and 2)
            with pytest.raises(LoginFailed):
                await login(session, clock, uri, password="Wrong-password-123")
        with pytest.raises(AccountLocked) as locked:
            await login(session, clock, uri)
        assert locked.value.retry_after > 0


async def test_logout_revokes_access_and_refresh(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        uri = await create(session, clock)
        pair = await login(session, clock, uri)
        await sessions.logout(session=session, session_id=pair.session_id, clock=clock)
        await session.commit()
        with pytest.raises(TokenInvalid):
            await sessions.authenticate(
                session=session, access_token=pair.access_token, secret_key=SECRET_KEY, clock=clock
            )
        with pytest.raises(TokenInvalid):
            await sessions.refresh(
                session=session, refresh_token=pair.refresh_token, clock=clock, secret_key=SECRET_KEY
            )


async def test_disabling_staff_revokes_sessions(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        uri = await create(session, clock)
        pair = await login(session, clock, uri)
        await service.set_active(session=session, staff_id=1, active=False, clock=clock, actor="staff:9")
        await session.commit()
        with pytest.raises(TokenInvalid):
            await sessions.authenticate(
                session=session, access_token=pair.access_token, secret_key=SECRET_KEY, clock=clock
            )


async def test_api_keys_shown_once_hashed_scoped_revocable(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        with pytest.raises(UnknownMerchant):  # no merchant 42 yet: no key for it
            await api_keys.create_api_key(session=session, merchant_id=42, scopes=["payments:read"],
                                          name="shop", clock=clock, actor="staff:1")  # fmt: skip
        await add_merchants(session, 42)
        issued = await api_keys.create_api_key(
            session=session,
            merchant_id=42,
            scopes=["payments:read"],
            name="shop",
            clock=clock,
            actor="staff:1",
        )
        await session.commit()
        assert issued.plaintext.startswith("kbt_live_")
        assert issued.plaintext not in issued.api_key.key_hash
        row = await api_keys.authenticate_api_key(
            session=session, plaintext=issued.plaintext, scope="payments:read", clock=clock
        )
        assert row.merchant_id == 42
        with pytest.raises(ApiKeyScopeDenied):
            await api_keys.authenticate_api_key(
                session=session, plaintext=issued.plaintext, scope="payouts:write", clock=clock
            )
        with pytest.raises(ApiKeyInvalid):
            await api_keys.authenticate_api_key(
                session=session, plaintext=issued.plaintext + "x", scope="payments:read", clock=clock
            )
        with pytest.raises(ApiKeyInvalid):
            await api_keys.authenticate_api_key(
                session=session, plaintext="garbage", scope="payments:read", clock=clock
            )
        await api_keys.revoke_api_key(
            session=session, key_id=issued.api_key.key_id, clock=clock, actor="staff:1"
        )
        with pytest.raises(ApiKeyInvalid):
            await api_keys.authenticate_api_key(
                session=session, plaintext=issued.plaintext, scope="payments:read", clock=clock
            )
        with pytest.raises(ValueError):
            await api_keys.create_api_key(
                session=session, merchant_id=1, scopes=["root"], name="x", clock=clock, actor="a"
            )
