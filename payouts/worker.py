"""Real RQ worker processes for the payouts queues.

`supervise(n, ...)` starts N worker processes (`python -m payouts.worker`) and restarts any that die
(a kill -9 included) until it is told to stop. Each process builds its Runtime through a setup
callable named by dotted path (webapp.bootstrap.install), because payouts may not import webapp.

Coroutine jobs run through `LoopJob` on a `payouts.adapter.ProcessLoop` rather than RQ's fresh loop
per job. By default (SimpleWorker: jobs run in the worker process, no fork) that one loop, its
pooled engine, keep-alive HTTP client, Redis connection and Daraja client serve every job of the
process: about half the CPU per payout of a fork per job (BENCHMARKS.md), with the same chaos
guarantees (kill -9, Redis flush, duplicate and lost callbacks: tests/integration/payouts, run with
this default). With `--fork` (RQ's Worker) the work-horses get a new loop each (they are new
processes), closed after their job; the main process warms up first (job modules imported,
mappers, dialect, statement cache, certificate, SecurityCredential) so that each work-horse
inherits that work instead of redoing it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx
from redis import Redis
from rq import SimpleWorker, Worker
from rq.job import Job
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from core import runtime
from core.audit import keys as audit_keys
from core.config import Settings
from core.db.session import is_sqlite
from core.outbox.service import finish, pending_job
from core.payments.service import FINISHED_JOB, SEND_JOB
from core.runtime import Runtime
from payouts.adapter import ProcessLoop, certificate, config, warm_up
from payouts.mpesa.client import process_credential

log = logging.getLogger(__name__)
DEFAULT_QUEUES = ("payouts", "default")
DEFAULT_SETUP = "webapp.bootstrap.install"
# Imported once in the worker's main process, so forked work-horses do not import them per job: the
# send job, and the receipt job each payout stages when it finishes (core.flows.jobs: ~130 ms of CPU
# to import, once per work-horse that ran one, before this list named it).
PRELOAD = ("core.outbox.jobs", *(dotted.rpartition(".")[0] for dotted in (SEND_JOB, FINISHED_JOB)))


_process_loop = ProcessLoop()
_MAIN_PID = os.getpid()  # the worker's own process; a forked work-horse has another pid


class LoopJob(Job):
    """An RQ job whose coroutine runs on this process's long-lived loop (RQ: a new loop per job).

    In a forked work-horse that loop lives for one job, and is closed (pool, HTTP client, Redis)
    before the work-horse exits."""

    def _execute(self) -> object:  # overrides rq.job.Job._execute (rq 2.x)
        if not self.func:
            raise ValueError("Cannot execute job: function is None")
        result = self.func(*self.args, **self.kwargs)
        if not asyncio.iscoroutine(result):
            return result
        try:
            return _process_loop.run(result)
        finally:
            if os.getpid() != _MAIN_PID:
                _process_loop.close()


SUSPENSION_CHECK_S = 1.0


class _FewerRoundTrips:
    """RQ's per-job Redis bookkeeping without its repeats (measured: ~2.1 ms of CPU per no-op job
    with RQ's own loop, two jobs per payout). RQ sends the worker's heartbeat (HSET + EXPIRE, not
    pipelined) three times a job: before it blocks on the queue, when a job arrives and after the
    job, besides the one pipelined with the job's start; it sets the state "idle" twice in a row and
    reads the `rq suspend` flag before every job. Here a heartbeat is skipped while the worker's key
    still outlives RQ's longest blocking wait (the dequeue timeout) by a minute, so the key never
    expires under a live worker, as with RQ's own loop; a state already stored is not stored again;
    the suspend flag is read at most once a second. The job's own heartbeats, executions and
    registries are untouched (what abandoned-job detection and retries rely on)."""

    worker_ttl: int
    _ttl_until = 0.0  # monotonic time when the worker's key expires, as last set
    _suspension_checked_at = -SUSPENSION_CHECK_S

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is None and timeout is None and self._ttl_until - time.monotonic() > self.worker_ttl:
            return  # the key outlives the longest blocking dequeue (worker_ttl - 15 s) by a minute
        super().heartbeat(timeout, pipeline)  # type: ignore[misc]
        self._ttl_until = time.monotonic() + (timeout or self.worker_ttl + 60)

    def check_for_suspension(self, burst: bool) -> None:
        # `rq suspend` is honoured within a second, not asked of Redis before every job
        if time.monotonic() - self._suspension_checked_at < SUSPENSION_CHECK_S:
            return
        super().check_for_suspension(burst)  # type: ignore[misc]
        self._suspension_checked_at = time.monotonic()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and state == getattr(self, "_state", None):
            return  # already stored (RQ sets "idle" after a job and again before the next dequeue)
        super().set_state(state, pipeline)  # type: ignore[misc]


class PayoutsWorker(_FewerRoundTrips, SimpleWorker):
    """The production default: RQ's SimpleWorker (jobs in this process), fewer Redis round trips."""


class PayoutsForkingWorker(_FewerRoundTrips, Worker):
    """`--fork`: RQ's Worker (a work-horse forked per job), fewer Redis round trips."""


async def _warm_credential(current: Runtime) -> None:
    """The SecurityCredential, once in the main process (forked work-horses inherit it)."""
    settings = current.settings
    try:
        async with httpx.AsyncClient() as http:
            cfg = config(settings, await certificate(settings, http))
    except (httpx.HTTPError, OSError):  # not fatal: each job encrypts its own
        return
    process_credential(cfg.initiator_password, cfg.certificate_pem)


async def _warm_outbox_runner(current: Runtime) -> None:
    """The outbox runner's row read and done statements compiled once here, not in every work-horse
    (a row id that matches nothing); no connection is left open for the work-horses to inherit."""
    if is_sqlite(current.settings.database_url):
        return
    engine = current.session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    try:
        await pending_job(session_factory=current.session_factory, outbox_id=-1)
        await finish(session_factory=current.session_factory, outbox_id=-1)
    except (OSError, SQLAlchemyError) as exc:  # not fatal: the jobs compile them themselves
        log.warning("outbox runner warm-up could not reach the database: %s", exc)
    finally:
        await engine.dispose()


async def _warm_up(current: Runtime) -> None:
    await warm_up(current)
    audit_keys.warm()  # every ledger entry writes a keyed audit row
    await _warm_credential(current)
    await _warm_outbox_runner(current)


def _resolve(dotted: str) -> object:
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def run_one(
    queues: Sequence[str], *, setup: str = DEFAULT_SETUP, simple: bool = True, burst: bool = False
) -> None:
    """Run one RQ worker in this process (jobs in this process; a work-horse forked per job if not
    `simple`)."""
    install = _resolve(setup)
    # A pooled engine: every job's sessions share it through the ProcessLoop (for the whole process
    # with SimpleWorker; for one job in a forked work-horse, which opens one connection, not three).
    install(for_worker=False)  # type: ignore[operator]
    settings = runtime.get().settings
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: RQ workers need Redis")
    for module in (*PRELOAD, *filter(None, settings.kibeti_worker_preload.split(","))):
        importlib.import_module(module)
    asyncio.run(_warm_up(runtime.get()))
    connection = Redis.from_url(settings.redis_url)
    worker_class = PayoutsWorker if simple else PayoutsForkingWorker
    try:
        worker_class(list(queues), connection=connection, job_class=LoopJob).work(
            burst=burst, with_scheduler=True, logging_level="WARNING"
        )
    finally:
        _process_loop.close()


def command(queues: Sequence[str], *, setup: str = DEFAULT_SETUP, simple: bool = True) -> list[str]:
    args = [sys.executable, "-m", "payouts.worker", "--queues", ",".join(queues), "--setup", setup]
    return args if simple else [*args, "--fork"]


def supervise(
    count: int, queues: Sequence[str] = DEFAULT_QUEUES, *, setup: str = DEFAULT_SETUP, simple: bool = True
) -> None:
    """Keep `count` worker processes alive until SIGINT/SIGTERM."""
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    cmd = command(queues, setup=setup, simple=simple)
    children = [subprocess.Popen(cmd) for _ in range(count)]  # noqa: S603 - our own interpreter and module
    while not stopping:
        time.sleep(0.5)
        for index, child in enumerate(children):
            if child.poll() is not None and not stopping:
                children[index] = subprocess.Popen(cmd)  # noqa: S603
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one RQ worker process for the payouts queues")
    parser.add_argument("--queues", default=",".join(DEFAULT_QUEUES))
    parser.add_argument("--setup", default=Settings().kibeti_worker_setup)
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--simple", action="store_true", help="run jobs in this process (the default)")
    kind.add_argument("--fork", action="store_true", help="fork a work-horse per job (RQ's Worker)")
    parser.add_argument("--burst", action="store_true")
    args = parser.parse_args(argv)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    run_one(queues, setup=args.setup, simple=not args.fork, burst=args.burst)


if __name__ == "__main__":
    main()
