"""JobQueue adapters: RQ on Redis (production, tests) and an in-process queue (embedded default).

Jobs are module-level async functions named by dotted path, so both adapters run the same code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from core.outbox.jobs import resolve_job

log = logging.getLogger(__name__)

RETRY = Retry(max=3, interval=[5, 30, 120])
JOB_TIMEOUT = 120
IN_PROCESS_RETRY_DELAYS = [0.2, 1.0, 5.0]
PENDING_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class RQJobQueue:
    """Enqueue onto RQ queues; retries with back-off; a deterministic job id per outbox attempt."""

    def __init__(self, connection: Redis) -> None:
        self.connection = connection
        self._queues: dict[str, Queue] = {}

    def _queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self.connection, default_timeout=JOB_TIMEOUT)
        return self._queues[name]

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        self._queue(queue).enqueue(job, kwargs=kwargs, job_id=job_id, retry=RETRY, failure_ttl=7 * 86400)

    def is_pending(self, job_id: str) -> bool:
        try:
            status = Job.fetch(job_id, connection=self.connection).get_status(refresh=True)
        except NoSuchJobError:
            return False
        return status in PENDING_STATES


class InProcessJobQueue:
    """Runs jobs as tasks in this process's event loop: the `make run` default, no Redis needed.

    Nothing is lost if the process dies: the outbox row stays undone and is dispatched again on start.
    """

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Task[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        loop = self._loop or asyncio.get_running_loop()
        loop.call_soon_threadsafe(self._start, job, job_id, kwargs)

    def _start(self, job: str, job_id: str, kwargs: dict[str, Any]) -> None:
        if job_id in self._pending:
            return
        task = asyncio.ensure_future(self._run(job, job_id, kwargs))
        self._pending[job_id] = task

    async def _run(self, job: str, job_id: str, kwargs: dict[str, Any]) -> None:
        """Run with the same retry policy as RQ (jobs are idempotent), e.g. past a locked SQLite."""
        try:
            for attempt, delay in enumerate([*IN_PROCESS_RETRY_DELAYS, None], start=1):
                try:
                    await resolve_job(job)(**kwargs)
                    return
                except Exception:
                    if delay is None:
                        log.exception(
                            "in-process job %s (%s) failed %d times; giving up", job, job_id, attempt
                        )
                        return
                    log.warning(
                        "in-process job %s (%s) failed; retrying in %ss", job, job_id, delay, exc_info=True
                    )
                    await asyncio.sleep(delay)
        finally:
            self._pending.pop(job_id, None)

    def is_pending(self, job_id: str) -> bool:
        return job_id in self._pending

    async def drain(self) -> None:
        """Wait for every running job (tests and shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)
