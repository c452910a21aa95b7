"""Rehash on login, on both databases: a PIN or password hash made with older Argon2 parameters
still verifies, and a successful check replaces it with a hash made with the parameters in force,
in the check's own transaction. A failed check leaves it; a rolled-back check leaves the old hash,
which still works; a PIN reset committed meanwhile is never overwritten with the old PIN's hash."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth import service as staff_service
from core.auth.errors import LoginFailed
from core.auth.models import StaffUser
from core.clock import FixedClock
from core.identity import flows, service
from core.identity.errors import PinIncorrect
from core.identity.models import Customer
from core.merchant_users import service as merchant_users
from core.merchant_users.errors import MerchantSignInFailed
from core.merchant_users.models import MerchantUser
from core.security import hashing, rehash
from tests.integration.identity.helpers import KEYRING, SECRET_KEY, add_merchants, totp_code

Factory = async_sessionmaker[AsyncSession]
PIN = "4821"
PASSWORD = "Tr0ub4dor&3-kibeti-staff"
# Parameters other than those in force (the fast ones this package's conftest installs, or the
# production ones): what a hash made before the change looks like. Cheaper than the old defaults
# (m=64 MiB, t=3, p=4) so the tests stay quick; what matters is that they differ.
OLD = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2)


def old_hash(secret: str) -> str:
    stored = OLD.hash(secret)
    assert hashing.needs_rehash(stored)  # the premise: its parameters are not the ones in force
    assert hashing.verify_secret(stored, secret)  # and it still verifies
    return stored


def current_parameters() -> Any:
    return extract_parameters(hashing.hash_secret("anything"))


def assert_current(stored: str, secret: str) -> None:
    assert extract_parameters(stored) == current_parameters() != extract_parameters(OLD.hash(secret))
    assert not hashing.needs_rehash(stored)
    assert hashing.verify_secret(stored, secret) and not hashing.verify_secret(stored, secret + "0")


async def customer_with_old_hash(session_factory: Factory) -> tuple[int, str]:
    stored = old_hash(PIN)
    async with session_factory() as session:
        customer = await service.register_customer(
            session=session, phone="0712345678", name="Wanjiku", national_id="23456789", language="sw", pin=PIN
        )  # fmt: skip
        await session.execute(update(Customer).where(Customer.id == customer.id).values(pin_hash=stored))
        await session.commit()
        return customer.id, stored


async def stored_pin_hash(session_factory: Factory, customer_id: int) -> str:
    async with session_factory() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        return customer.pin_hash


async def check_pin(session_factory: Factory, customer_id: int, pin: str, clock: FixedClock) -> None:
    await flows.check_pin(
        limiter=None, session_factory=session_factory, customer_id=customer_id, pin=pin, clock=clock
    )


async def test_a_pin_hash_with_old_parameters_is_upgraded_by_a_successful_check_off_the_loop(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real: Callable[[str], str] = hashing.hash_secret

    def recording(secret: str) -> str:
        threads.append(threading.get_ident())
        return real(secret)

    monkeypatch.setattr(rehash, "hash_secret", recording)
    customer_id, stored = await customer_with_old_hash(session_factory)
    clock = FixedClock()
    await check_pin(session_factory, customer_id, PIN, clock)
    upgraded = await stored_pin_hash(session_factory, customer_id)
    assert upgraded != stored
    assert_current(upgraded, PIN)
    assert len(threads) == 1 and threading.get_ident() not in threads  # Argon2 in a worker thread
    await check_pin(session_factory, customer_id, PIN, clock)  # current now: not hashed again
    assert await stored_pin_hash(session_factory, customer_id) == upgraded and len(threads) == 1


async def test_a_failed_check_does_not_rewrite_the_hash(session_factory: Factory) -> None:
    customer_id, stored = await customer_with_old_hash(session_factory)
    clock = FixedClock()
    for wrong in ("7395", "12ab"):
        with pytest.raises(PinIncorrect):
            await check_pin(session_factory, customer_id, wrong, clock)
        assert await stored_pin_hash(session_factory, customer_id) == stored
    await check_pin(session_factory, customer_id, PIN, clock)  # the old hash still works, then upgrades
    assert_current(await stored_pin_hash(session_factory, customer_id), PIN)


async def test_a_rolled_back_check_keeps_the_old_hash_which_still_works(session_factory: Factory) -> None:
    customer_id, stored = await customer_with_old_hash(session_factory)
    clock = FixedClock()
    async with session_factory() as session:  # e.g. a money confirmation refused after the PIN
        customer = await service.verify_pin(
            session=session, limiter=None, customer_id=customer_id, pin=PIN, clock=clock
        )
        assert customer.pin_hash != stored  # upgraded inside the transaction...
        await session.rollback()  # ...which does not commit
    assert await stored_pin_hash(session_factory, customer_id) == stored
    await check_pin(session_factory, customer_id, PIN, clock)
    assert_current(await stored_pin_hash(session_factory, customer_id), PIN)


async def test_a_reset_committed_meanwhile_is_not_overwritten_with_the_old_pin(
    pg_session_factory: Factory,
) -> None:
    """The check read the old hash; a staff reset commits a new PIN before the upgrade is written:
    the upgrade (a hash of the old PIN) must not bring the old PIN back. PostgreSQL: two writers."""
    customer_id, stored = await customer_with_old_hash(pg_session_factory)
    clock = FixedClock()
    async with pg_session_factory() as checking:
        customer = await checking.get(Customer, customer_id)
        assert customer is not None and customer.pin_hash == stored
        async with pg_session_factory() as resetting:
            await service.reset_pin(
                session=resetting, customer_id=customer_id, new_pin="7395", clock=clock, actor="staff:1"
            )
            await resetting.commit()
        written = await rehash.upgrade_hash(
            session=checking, row=customer, column=Customer.pin_hash, secret=PIN
        )
        await checking.commit()
    assert written is False
    reset_hash = await stored_pin_hash(pg_session_factory, customer_id)
    assert hashing.verify_secret(reset_hash, "7395") and not hashing.verify_secret(reset_hash, PIN)


async def create_staff_with_old_hash(session_factory: Factory, clock: FixedClock) -> tuple[str, str]:
    stored = old_hash(PASSWORD)
    async with session_factory() as session:
        new = await staff_service.create_staff(
            session=session, email="amina@kibeti.test", role="support", password=PASSWORD,
            keyring=KEYRING, clock=clock, actor="cli",
        )  # fmt: skip
        await session.execute(
            update(StaffUser).where(StaffUser.id == new.staff.id).values(password_hash=stored)
        )
        await session.commit()
    return new.provisioning_uri, stored


async def staff_login(
    session_factory: Factory, clock: FixedClock, uri: str, password: str, code: str = ""
) -> None:
    async with session_factory() as session:
        try:
            await staff_service.login(
                session=session, email="amina@kibeti.test", password=password,
                totp_code=code or totp_code(uri, clock.now().timestamp()), clock=clock,
                secret_key=SECRET_KEY, keyring=KEYRING,
            )  # fmt: skip
        finally:
            await session.commit()  # as the router: a failed login's counters are kept


async def staff_hash(session_factory: Factory) -> str:
    async with session_factory() as session:
        staff = await staff_service.get_staff_by_email(session=session, email="amina@kibeti.test")
        assert staff is not None
        return staff.password_hash


async def test_a_staff_password_hash_is_upgraded_by_a_successful_login_only(session_factory: Factory) -> None:
    clock = FixedClock()
    uri, stored = await create_staff_with_old_hash(session_factory, clock)
    with pytest.raises(LoginFailed):
        await staff_login(session_factory, clock, uri, PASSWORD + "x")  # wrong password
    assert await staff_hash(session_factory) == stored
    clock.advance(seconds=60)
    with pytest.raises(LoginFailed):
        await staff_login(session_factory, clock, uri, PASSWORD, code="000000")  # right password, wrong code
    assert await staff_hash(session_factory) == stored
    clock.advance(seconds=60)
    await staff_login(session_factory, clock, uri, PASSWORD)
    upgraded = await staff_hash(session_factory)
    assert upgraded != stored
    assert_current(upgraded, PASSWORD)
    clock.advance(seconds=60)
    await staff_login(session_factory, clock, uri, PASSWORD)  # the new hash signs in
    assert await staff_hash(session_factory) == upgraded


async def test_a_merchant_user_password_hash_is_upgraded_by_a_successful_sign_in(
    session_factory: Factory,
) -> None:
    clock = FixedClock()
    async with session_factory() as session:
        await add_merchants(session, 7)
        invitation = await merchant_users.invite(
            session=session, merchant_id=7, email="owner@shop.test", role="owner", keyring=KEYRING,
            clock=clock, actor="staff:1",
        )  # fmt: skip
        password, user_id = invitation.password, invitation.user.id
        stored = old_hash(password)
        await session.execute(
            update(MerchantUser).where(MerchantUser.id == user_id).values(password_hash=stored)
        )
        await session.commit()

    async def sign_in(secret: str) -> None:
        async with session_factory() as session:
            try:
                await merchant_users.sign_in(
                    session=session, email="owner@shop.test", password=secret, keyring=KEYRING,
                    code=totp_code(invitation.provisioning_uri, clock.now().timestamp()), now=clock.now(),
                )  # fmt: skip
            finally:
                await session.commit()

    async def merchant_hash() -> str:
        async with session_factory() as session:
            user = await session.get(MerchantUser, user_id)
            assert user is not None
            return user.password_hash

    with pytest.raises(MerchantSignInFailed):
        await sign_in(password + "x")
    assert await merchant_hash() == stored
    clock.advance(seconds=60)
    await sign_in(password)
    upgraded = await merchant_hash()
    assert upgraded != stored
    assert_current(upgraded, password)
    clock.advance(seconds=60)
    await sign_in(password)
    assert await merchant_hash() == upgraded
