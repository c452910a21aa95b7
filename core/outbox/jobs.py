"""The job the relay enqueues for every outbox row: run the target, then mark the row done.

Target jobs stay plain module-level async functions taking ids; they must be idempotent, since a
row can be delivered more than once (a crash after the work and before `done`, a flushed Redis).

A target decorated with `marks_row_done` takes `outbox_id` and marks the row done itself, inside
the transaction that records its work (one transaction fewer, and the row is done exactly when the
work is). The relay sends such a target's job and kwargs along with the row id, and the runner calls
it without reading the row first: its own claim (a row lock on the thing it works on) decides
whether work is left. Every other row is read here (its kwargs never leave the database).
"""

from __future__ import annotations

from typing import Any

from core import runtime
from core.outbox.service import finish, marks_own_row_done, marks_row_done, pending_job, resolve_job

__all__ = ["marks_row_done", "resolve_job", "run"]


async def run(outbox_id: int, job: str | None = None, kwargs: dict[str, Any] | None = None) -> None:
    """Run one outbox row's job. `job` and `kwargs` come with the id only for a `marks_row_done`
    target (older queue entries carry only the id)."""
    factory = runtime.get().session_factory
    if job is None or kwargs is None or not marks_own_row_done(job):
        pending = await pending_job(session_factory=factory, outbox_id=outbox_id)
        if pending is None:
            return
        job, kwargs = pending
    target = resolve_job(job)
    if marks_own_row_done(job):
        await target(**kwargs, outbox_id=outbox_id)
        return
    await target(**kwargs)
    await finish(session_factory=factory, outbox_id=outbox_id)
