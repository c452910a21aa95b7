"""PesaPal integration tests: real processes (uvicorn, RQ workers), PostgreSQL and Redis."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Objects other fixtures leaked (a relay runtime's Redis connection) may be collected while a test
    here runs; not ours to fail on. Our processes are stopped explicitly (Stack.stop)."""
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
