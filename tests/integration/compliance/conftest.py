from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from compliance.sanctions import registry
from compliance.sanctions.loader import SanctionsList, load_path
from compliance.seed import ensure_defaults
from core.clock import FixedClock

SANCTIONS_DATA = Path("/work/shared/data/sanctions")


@pytest.fixture(scope="session")
def crypto_lists() -> SanctionsList:
    """Only the crypto address lists (fast to load), for gate tests."""
    return load_path(SANCTIONS_DATA / "crypto")


@pytest.fixture(scope="session")
def full_lists() -> SanctionsList:
    return load_path(SANCTIONS_DATA)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))  # 12:00 in Nairobi


@pytest.fixture
async def factory(session_factory, clock):  # type: ignore[no-untyped-def]
    """The root fixture's factory, with the default tiers and rules present (PG tests truncate)."""
    async with session_factory() as session, session.begin():
        await ensure_defaults(session=session, now=clock.now())
    return session_factory


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    registry.clear()
    yield
    registry.clear()
