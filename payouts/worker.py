"""Real RQ worker processes for the payouts queues.

`supervise(n, ...)` starts N worker processes (`python -m payouts.worker`) and restarts any that die
(a kill -9 included) until it is told to stop. Each process builds its Runtime through a setup
callable named by dotted path (webapp.bootstrap.install), because payouts may not import webapp.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from redis import Redis
from rq import SimpleWorker, Worker

from core import runtime
from payouts.adapter import prefetch_certificate

DEFAULT_QUEUES = ("payouts", "default")
DEFAULT_SETUP = "webapp.bootstrap.install"
# Imported once in the worker's main process, so forked work-horses do not import them per job.
PRELOAD = ("payouts.jobs", "core.outbox.jobs")


def _resolve(dotted: str) -> object:
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def run_one(
    queues: Sequence[str], *, setup: str = DEFAULT_SETUP, simple: bool = False, burst: bool = False
) -> None:
    """Run one RQ worker in this process (forking a work-horse per job unless `simple`)."""
    install = _resolve(setup)
    install(for_worker=True)  # type: ignore[operator]
    settings = runtime.get().settings
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: RQ workers need Redis")
    for module in (*PRELOAD, *filter(None, os.environ.get("KIBETI_WORKER_PRELOAD", "").split(","))):
        importlib.import_module(module)
    asyncio.run(prefetch_certificate(settings))
    connection = Redis.from_url(settings.redis_url)
    worker_class = SimpleWorker if simple else Worker
    worker_class(list(queues), connection=connection).work(
        burst=burst, with_scheduler=True, logging_level="WARNING"
    )


def command(queues: Sequence[str], *, setup: str = DEFAULT_SETUP, simple: bool = False) -> list[str]:
    args = [sys.executable, "-m", "payouts.worker", "--queues", ",".join(queues), "--setup", setup]
    return [*args, "--simple"] if simple else args


def supervise(
    count: int, queues: Sequence[str] = DEFAULT_QUEUES, *, setup: str = DEFAULT_SETUP, simple: bool = False
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
    parser.add_argument("--setup", default=os.environ.get("KIBETI_WORKER_SETUP", DEFAULT_SETUP))
    parser.add_argument("--simple", action="store_true", help="run jobs in this process (no fork per job)")
    parser.add_argument("--burst", action="store_true")
    args = parser.parse_args(argv)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    run_one(queues, setup=args.setup, simple=args.simple, burst=args.burst)


if __name__ == "__main__":
    main()
