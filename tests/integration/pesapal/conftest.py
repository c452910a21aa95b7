"""PesaPal integration tests: real processes (uvicorn, RQ workers), PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.db.session import make_session_factory

Factory = async_sessionmaker[AsyncSession]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Objects other fixtures leaked (a relay runtime's Redis connection) may be collected while a test
    here runs; not ours to fail on. Our processes are stopped explicitly (Stack.stop)."""
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))


@pytest.fixture
def clock() -> FixedClock:
    """The refund tests' clock: the jobs and the sessions below read it."""
    return FixedClock()


@pytest.fixture
async def factory(session_factory: Factory, clock: FixedClock) -> Factory:
    """Sessions on the test's database (SQLite or PostgreSQL) dated by `clock`."""
    engine = session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return make_session_factory(engine, clock=clock)
