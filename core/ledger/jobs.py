"""Periodic ledger jobs (run by the scheduler through the job queue)."""

from __future__ import annotations

from core import runtime
from core.ledger import rollup as rollup_module
from core.ledger import service


async def expire_holds() -> int:
    """Void holds whose expiry passed. Returns how many."""
    current = runtime.get()
    async with current.session_factory() as session:
        expired = await service.expire_holds(session=session, now=current.clock.now())
        await session.commit()
    return expired


async def rollup_system_accounts() -> int:
    current = runtime.get()
    async with current.session_factory() as session:
        moved = await rollup_module.rollup(session=session, now=current.clock.now())
        await session.commit()
    return moved
