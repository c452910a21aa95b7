"""The signed-in staff user as outer packages see it: a frozen SignedInStaff (id, email, role), from an
access token (sessions.authenticate) or a portal's session id (sessions.signed_in_staff), and nothing
for a session that is logged out, expired, or whose user was disabled."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import service, sessions
from core.auth.types import SignedInStaff
from core.clock import FixedClock
from tests.integration.identity.helpers import KEYRING, SECRET_KEY, totp_code

Factory = async_sessionmaker[AsyncSession]
PASSWORD = "Tr0ub4dor&3-kibeti-staff"


async def _signed_in(session: AsyncSession, clock: FixedClock) -> tuple[int, sessions.TokenPair]:
    new = await service.create_staff(
        session=session, email="Baraka@Kibeti.test", role="finance", password=PASSWORD, keyring=KEYRING,
        clock=clock, actor="cli",
    )  # fmt: skip
    pair = await service.login(
        session=session, email="baraka@kibeti.test", password=PASSWORD,
        totp_code=totp_code(new.provisioning_uri, clock.now().timestamp()), clock=clock,
        secret_key=SECRET_KEY, keyring=KEYRING,
    )  # fmt: skip
    await session.commit()
    return new.staff.id, pair


async def test_a_token_and_a_session_id_name_the_same_frozen_staff(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        staff_id, pair = await _signed_in(session, clock)
        by_token = await sessions.authenticate(
            session=session, access_token=pair.access_token, secret_key=SECRET_KEY, clock=clock
        )
        by_session = await sessions.signed_in_staff(
            session=session, session_id=pair.session_id, now=clock.now()
        )
    expected = SignedInStaff(id=staff_id, email="baraka@kibeti.test", role="finance")
    assert by_token == expected and by_session == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_token.role = "admin"  # type: ignore[misc]


async def test_no_staff_for_an_unknown_expired_or_logged_out_session(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        _, pair = await _signed_in(session, clock)
        assert (
            await sessions.signed_in_staff(session=session, session_id="no-such-session", now=clock.now())
            is None
        )
        later = clock.now() + sessions.SESSION_MAX_AGE + timedelta(seconds=1)
        assert await sessions.signed_in_staff(session=session, session_id=pair.session_id, now=later) is None
        await sessions.logout(session=session, session_id=pair.session_id, clock=clock)
        await session.commit()
        assert (
            await sessions.signed_in_staff(session=session, session_id=pair.session_id, now=clock.now())
            is None
        )


async def test_no_staff_once_the_user_is_disabled(session_factory: Factory) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        staff_id, pair = await _signed_in(session, clock)
        assert await sessions.signed_in_staff(session=session, session_id=pair.session_id, now=clock.now())
        staff = await service.get_staff(session=session, staff_id=staff_id)
        assert staff is not None
        staff.active = False
        await session.commit()
        assert (
            await sessions.signed_in_staff(session=session, session_id=pair.session_id, now=clock.now())
            is None
        )
