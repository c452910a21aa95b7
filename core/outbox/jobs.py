"""The job the relay enqueues for every outbox row: run the target, then mark the row done.

Target jobs stay plain module-level async functions taking ids; they must be idempotent, since a
row can be delivered more than once (a crash after the work and before `done`, a flushed Redis).

A target decorated with `marks_row_done` takes `outbox_id` and marks the row done itself, inside
the transaction that records its work (one transaction fewer, and the row is done exactly when the
work is). Such a target is called without reading the row first when the relay sent the job and its
kwargs along: its own claim (a row lock on the thing it works on) decides whether work is left.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core import runtime
from core.outbox.service import finish, pending_job

Target = TypeVar("Target", bound=Callable[..., Awaitable[Any]])
_MARKS_ROW_DONE = "__outbox_marks_row_done__"


def marks_row_done(target: Target) -> Target:
    """Declare that `target(**kwargs, outbox_id=...)` marks the outbox row done on every path that
    finishes its work (and leaves it undone when it raises, so the job is retried)."""
    setattr(target, _MARKS_ROW_DONE, True)
    return target


def resolve_job(dotted: str) -> Callable[..., Awaitable[Any]]:
    module_name, _, attribute = dotted.rpartition(".")
    target: Callable[..., Awaitable[Any]] = getattr(importlib.import_module(module_name), attribute)
    return target


async def run(outbox_id: int, job: str | None = None, kwargs: dict[str, Any] | None = None) -> None:
    """Run one outbox row's job. `job` and `kwargs` are the row's own, sent by the relay (older
    queue entries carry only the id)."""
    factory = runtime.get().session_factory
    if job is None or kwargs is None or not getattr(resolve_job(job), _MARKS_ROW_DONE, False):
        pending = await pending_job(session_factory=factory, outbox_id=outbox_id)
        if pending is None:
            return
        job, kwargs = pending
    target = resolve_job(job)
    if getattr(target, _MARKS_ROW_DONE, False):
        await target(**kwargs, outbox_id=outbox_id)
        return
    await target(**kwargs)
    await finish(session_factory=factory, outbox_id=outbox_id)
