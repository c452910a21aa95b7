"""Shared fixtures: real PostgreSQL and Redis (never mocked), and SQLite for the embedded default.

PostgreSQL: a fresh database per test session, migrated to head, truncated before each test that
uses it. Redis: a private database index per test session, flushed before each test that uses it.
Unreachable services fail the run (they are not skipped): `make test` starts them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
import redis
from hypothesis import HealthCheck, settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import runtime as runtime_module
from core.config import get_settings
from core.db.session import make_engine, make_session_factory
from webapp.schema import upgrade


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Close the event loop pytest-asyncio leaves set after an async test. Left open, it was
    collected unclosed in whichever later test dropped it (a sync test's `asyncio.run`), and the
    ResourceWarning failed that innocent test, depending on the order the tests ran in."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:  # not the main thread, or no loop to be had
            return
    if not loop.is_running() and not loop.is_closed():
        loop.close()
    asyncio.set_event_loop(None)


PG_ADMIN_DSN = os.environ.get("KIBETI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_ADMIN_URL = os.environ.get("KIBETI_TEST_REDIS", "redis://127.0.0.1:6379/0")
HOW_TO_START = "run `make services` (or see README: PostgreSQL and Redis must be running)"

# Hypothesis's deadline and too_slow health check are timing assertions: on a busy 2-CPU machine a
# slow example is not a failure. Explicit @settings(...) inherit this profile for what they omit.
settings.register_profile("kibeti", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kibeti")


@pytest.fixture(autouse=True)
def _isolated_process_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Each test starts as the first one would: no Runtime installed by an earlier test (its engines
    may be disposed by now), settings read afresh from the environment, and a private DATA_DIR.

    Settings default to ./var, where the simulated chains keep their blocks: shared between tests
    and runs, old deposits to the same development-mnemonic addresses would be credited again.
    DATA_DIR reaches Settings built in-process and `kibeti` subprocesses alike."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path_factory.mktemp("var")))
    # A test run (wallets may then use the public development keys with Redis configured, as the
    # embedded demo does); reaches `kibeti` subprocesses too. Tests of other modes say so in Settings.
    monkeypatch.setenv("KIBETI_ENV", "test")
    previous = runtime_module._current
    runtime_module._current = None
    get_settings.cache_clear()
    yield
    runtime_module._current = previous
    get_settings.cache_clear()


def run_blocking(coroutine_function, *args):
    """Run a coroutine to completion from sync code, even when an event loop is running here."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_function(*args)).result()


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL database private to this test session."""
    name = f"kibeti_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        run_blocking(_pg_admin, f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is unreachable ({exc}); {HOW_TO_START}")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    run_blocking(_pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database file for this test."""
    path = tmp_path / "kibeti.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def _truncate_all(url: str) -> None:
    engine = make_engine(url, null_pool=True)
    async with engine.begin() as connection:
        names = (
            (
                await connection.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        if names:
            tables = ", ".join(f'"{name}"' for name in names)
            # replica mode skips triggers for this transaction: audit_log refuses TRUNCATE otherwise
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
def clean_pg_url(pg_url: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    run_blocking(_truncate_all, pg_url)
    return pg_url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test on both databases: the embedded default and the production target."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("clean_pg_url"))


@pytest.fixture
async def session_factory(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def pg_session_factory(clean_pg_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(clean_pg_url, pool_size=20)
    yield make_session_factory(engine)
    await engine.dispose()


REDIS_DB_LEASE_SECONDS = 2 * 3600  # renewed by every test that uses Redis; a crashed run frees it later
REDIS_DB_WAIT_SECONDS = 300


def _redis_lease_key(index: int) -> str:
    return f"kibeti:test:db-lease:{index}"


@pytest.fixture(scope="session")
def _redis_lease() -> Iterator[tuple[int, str]]:
    """An exclusive lease on one Redis database index (1-15) for this test session.

    Several test runs share this Redis (CI, engineers, benchmarks): a counter modulo 15 handed one
    index to two runs 15 sessions apart, and one run's flushdb or RQ worker took the other's jobs."""
    admin = redis.Redis.from_url(REDIS_ADMIN_URL, socket_timeout=5)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    give_up_at = time.monotonic() + REDIS_DB_WAIT_SECONDS
    try:
        while True:
            for index in range(1, 16):
                if admin.set(_redis_lease_key(index), owner, nx=True, ex=REDIS_DB_LEASE_SECONDS):
                    break
            else:
                if time.monotonic() > give_up_at:
                    pytest.fail(f"all 15 Redis test databases stayed leased for {REDIS_DB_WAIT_SECONDS}s")
                time.sleep(1)
                continue
            break
    except redis.exceptions.ConnectionError as exc:
        admin.close()
        pytest.fail(f"Redis at {REDIS_ADMIN_URL} is unreachable ({exc}); {HOW_TO_START}")
    yield index, owner
    try:  # release only our own lease (it may have expired and been taken by another run)
        if admin.get(_redis_lease_key(index)) == owner.encode():
            admin.delete(_redis_lease_key(index))
    finally:
        admin.close()


@pytest.fixture(scope="session")
def redis_db_url(_redis_lease: tuple[int, str]) -> str:
    """A Redis database index (1-15) private to this test session."""
    index, _owner = _redis_lease
    return REDIS_ADMIN_URL.rsplit("/", 1)[0] + f"/{index}"


@pytest.fixture
def redis_url(redis_db_url: str, _redis_lease: tuple[int, str]) -> str:
    """The session's Redis database, flushed for this test."""
    index, owner = _redis_lease
    admin = redis.Redis.from_url(REDIS_ADMIN_URL)
    if admin.get(_redis_lease_key(index)) in (None, owner.encode()):  # renew (or re-take if it lapsed)
        admin.set(_redis_lease_key(index), owner, ex=REDIS_DB_LEASE_SECONDS)
    admin.close()
    client = redis.Redis.from_url(redis_db_url)
    client.flushdb()
    client.close()
    return redis_db_url
