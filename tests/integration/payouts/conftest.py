from __future__ import annotations

import contextlib
import importlib
import warnings
from pathlib import Path

import pytest

from tests.integration.payouts.harness import Relay, Stack
from webapp.bootstrap import ADAPTER_BUILDERS

# Import every adapter the bootstrap wires once, here, so a third-party deprecation warning raised at
# import time (e.g. websockets.legacy) is not turned into an error inside whichever test imports it first.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    for _dotted in ADAPTER_BUILDERS.values():
        with contextlib.suppress(ImportError):
            importlib.import_module(_dotted.rpartition(".")[0])


@pytest.fixture
def stack(clean_pg_url: str, redis_url: str):
    s = Stack(pg_url=clean_pg_url, redis_url=redis_url)
    _stacks.append(s)
    try:
        s.start_servers(MPESA_RECONCILE_AFTER_S="2")
        yield s
    finally:
        s.stop()


_stacks: list[Stack] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Never leave a simulator, callback app or worker behind, whatever happened to a fixture."""
    for s in _stacks:
        s.stop()


@pytest.fixture
async def relay(stack: Stack):
    r = Relay(stack)
    r.start()
    yield r
    await r.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Objects leaked by earlier tests in the session (an unclosed event loop's self-pipe, say) may be
    garbage-collected while a payouts test runs; do not report them against it. Our own processes
    and clients are closed explicitly (Stack.stop, Relay.stop)."""
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
