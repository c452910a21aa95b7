"""`kibeti worker payouts -n 2` starts two real RQ worker processes, restarts a killed one, stops cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from redis import Redis
from rq import Worker

from tests.integration.payouts.harness import ROOT

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _wait(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _alive(redis: Redis) -> list[Worker]:
    return [w for w in Worker.all(connection=redis) if w.pid and _pid_alive(w.pid)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_worker_payouts_command(sqlite_url, redis_url):
    env = {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": redis_url,
        "MPESA_BASE_URL": "http://127.0.0.1:9",
    }
    kibeti = [sys.executable, "-c", "from webapp.cli import main; main()"]
    supervisor = subprocess.Popen(
        [*kibeti, "worker", "payouts", "-n", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    redis = Redis.from_url(redis_url)
    try:
        _wait(lambda: len(_alive(redis)) == 2)
        victim = _alive(redis)[0]
        os.kill(victim.pid, signal.SIGKILL)
        _wait(lambda: len(_alive(redis)) == 2 and victim.pid not in {w.pid for w in _alive(redis)})
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=40)
        _wait(lambda: not _alive(redis), timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):  # also any orphaned RQ scheduler process
            os.killpg(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
