from __future__ import annotations

import pytest

from tests.integration.payouts.harness import Relay, Stack


@pytest.fixture
def stack(clean_pg_url: str, redis_url: str):
    s = Stack(pg_url=clean_pg_url, redis_url=redis_url)
    s.start_servers(MPESA_RECONCILE_AFTER_S="2")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
async def relay(stack: Stack):
    r = Relay(stack)
    r.start()
    yield r
    await r.stop()
