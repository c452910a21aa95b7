"""Periodic audit jobs (run by the scheduler through the job queue)."""

from __future__ import annotations

from core import runtime
from core.audit import checkpoints, service


async def publish_checkpoint() -> int:
    """Sign the chain's head and publish it (log + checkpoint file). Returns the head's seq."""
    current = runtime.get()
    async with current.session_factory() as session:
        checkpoint = await checkpoints.create(session=session, now=current.clock.now())
    checkpoints.publish(checkpoint, current.settings.audit_checkpoint_file)
    return checkpoint.seq


async def chain_pending() -> int:
    """Append the audit rows money writes queued (core.audit.service.record_deferred) to the chain."""
    current = runtime.get()
    chained = 0
    while True:
        async with current.session_factory() as session:
            done = await service.chain_pending(session=session)
            await session.commit()
        chained += done
        if done == 0:
            return chained
