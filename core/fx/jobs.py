"""FX jobs (run every 60 s by the scheduler, by dotted path "core.fx.jobs.refresh_rates")."""

from __future__ import annotations

import logging

from core import runtime as runtime_module
from core.fx import cache
from core.fx import service as fx_service
from core.fx.policy import FxPolicy
from core.fx.service import RefreshResult

log = logging.getLogger(__name__)


async def refresh_rates() -> None:
    """Fetch from every configured source, store all rates, refresh the optional Redis cache."""
    await refresh_with_runtime()


async def refresh_with_runtime() -> RefreshResult:
    runtime = runtime_module.get()
    policy = FxPolicy.from_settings(runtime.settings)
    async with runtime.session_factory() as session:
        result = await fx_service.refresh(
            session=session, sources=runtime.rate_sources, clock=runtime.clock, policy=policy
        )
        await session.commit()
    await cache.store(runtime.redis, result.rates)
    if result.errors:
        log.warning("fx refresh: some sources failed", extra={"errors": result.errors})
    return result
