"""The job the relay enqueues for every outbox row: run the target, then mark the row done.

Target jobs stay plain module-level async functions taking ids; they must be idempotent, since a
row can be delivered more than once (a crash after the work and before `done`, a flushed Redis).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from core import runtime
from core.outbox.models import OutboxJob, OutboxStatus
from core.outbox.service import mark_done


def resolve_job(dotted: str) -> Callable[..., Awaitable[Any]]:
    module_name, _, attribute = dotted.rpartition(".")
    target: Callable[..., Awaitable[Any]] = getattr(importlib.import_module(module_name), attribute)
    return target


async def run(outbox_id: int) -> None:
    current = runtime.get()
    async with current.session_factory() as session:
        row = await session.get(OutboxJob, outbox_id)
        if row is None or row.status == OutboxStatus.DONE.value:
            return
        job, kwargs = row.job, dict(row.kwargs)
    await resolve_job(job)(**kwargs)
    async with current.session_factory() as session:
        await mark_done(session=session, outbox_id=outbox_id)
        await session.commit()
