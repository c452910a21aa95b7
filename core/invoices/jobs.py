"""Periodic invoice work (the scheduler runs it): expire New invoices past their expiry and
invalidate Processing ones whose payments never confirmed within the monitoring window."""

from __future__ import annotations

from core import runtime
from core.invoices import service


async def expire_invoices(outbox_id: int | None = None) -> int:
    current = runtime.get()
    changed = 0
    for _ in range(50):  # in batches, each its own transaction; the next run takes any rest
        async with current.session_factory() as session, session.begin():
            batch = await service.expire_due(session=session, now=current.clock.now(), limit=200)
        changed += batch
        if batch < 200:
            break
    return changed
