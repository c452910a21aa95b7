"""Readiness checks, one list for `/readyz` (machines) and `kibeti doctor` (people).

Each check answers ok or not with a one-line detail that says what to do next.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import text

from core.config import Settings
from core.errors import KibetiError
from core.runtime import Runtime
from webapp.schema import alembic_config

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def missing_heads(database_url: str, applied: set[str]) -> set[str]:
    """Heads of the migration branches that the applied revisions (with everything they depend on)
    do not reach. Alembic stores only the newest revisions, so a branch that others depend on
    (core_0001) counts as applied through its dependants."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    reached = {rev.revision for rev in script.revision_map.iterate_revisions(tuple(applied), "base") if rev}
    return set(script.get_heads()) - reached


async def check_database(runtime: Runtime) -> list[Check]:
    url = runtime.settings.database_url
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), runtime.session_factory() as session:
            rows = await session.execute(text("SELECT version_num FROM alembic_version"))
            applied = {str(r[0]) for r in rows.all()}
    except Exception as exc:
        hint = "check DATABASE_URL, then run `kibeti db upgrade`"
        return [Check("database", False, f"unreachable or not migrated ({type(exc).__name__}): {hint}")]
    missing = missing_heads(url, applied)
    migrations = (
        Check("migrations", True, "at head")
        if not missing
        else Check("migrations", False, f"{len(missing)} branch(es) behind: run `kibeti db upgrade`")
    )
    return [Check("database", True, "reachable"), migrations]


async def check_redis(runtime: Runtime) -> Check:
    if runtime.redis is None:
        return Check("redis", True, "not used (embedded default: in-process queue)")
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await runtime.redis.ping()
    except Exception as exc:
        return Check("redis", False, f"unreachable ({type(exc).__name__}): check REDIS_URL")
    return Check("redis", True, "reachable")


def check_settings(settings: Settings) -> Check:
    try:
        settings.check_production()
    except (KibetiError, ValueError) as exc:
        return Check("settings", False, str(exc))
    return Check("settings", True, f"valid ({settings.kibeti_env})")


async def readiness(runtime: Runtime) -> list[Check]:
    checks = await check_database(runtime)
    checks.append(await check_redis(runtime))
    checks.append(check_settings(runtime.settings))
    return checks
