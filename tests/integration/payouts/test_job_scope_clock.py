"""A payout job's own sessions (payouts.adapter.job_scope) carry the runtime's clock."""

from __future__ import annotations

from datetime import UTC, datetime

from core.clock import FixedClock, clock_of
from core.config import Settings
from payouts import adapter
from webapp.bootstrap import build_runtime


async def test_a_jobs_sessions_tell_the_runtimes_time(clean_pg_url):
    rt = build_runtime(Settings(kibeti_env="test", database_url=clean_pg_url, redis_url=""))  # type: ignore[arg-type]
    rt.clock = FixedClock(datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC))
    try:
        async with adapter.job_scope(rt):
            factory = adapter.sessions(rt)
            assert factory is not rt.session_factory  # the job's own engine, not the runtime's
            async with factory() as session:
                assert clock_of(session).now() == datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    finally:
        await rt.session_factory.kw["bind"].dispose()
