"""payouts.adapter.ProcessLoop: one loop for every job, abandoned when a job is interrupted mid-flight."""

from __future__ import annotations

import asyncio
import signal

import pytest

from core import runtime as runtime_module
from payouts import adapter


class _Interrupted(Exception):
    pass


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(runtime_module, "_current", object())
    monkeypatch.setattr(adapter._Shared, "forget", lambda self: None)

    async def aclose(self: adapter._Shared) -> None:
        return None

    monkeypatch.setattr(adapter._Shared, "aclose", aclose)


async def _loop_id() -> int:
    return id(asyncio.get_running_loop())


def test_jobs_share_one_loop_and_see_the_shared_resources(installed):
    loop = adapter.ProcessLoop()
    first, second = loop.run(_loop_id()), loop.run(_loop_id())
    assert first == second
    assert first in adapter._loops
    loop.close()
    assert first not in adapter._loops


def test_an_exception_inside_the_job_keeps_the_loop(installed):
    loop = adapter.ProcessLoop()
    before = loop.run(_loop_id())

    async def boom() -> None:
        raise ValueError("job failed")

    with pytest.raises(ValueError):
        loop.run(boom())
    assert loop.run(_loop_id()) == before
    loop.close()


def test_an_interrupted_job_never_resumes_and_the_loop_is_replaced(installed, monkeypatch):
    resumed = []

    def alarm(_signum, _frame):
        raise _Interrupted  # what RQ's job-timeout signal does

    async def slow() -> None:
        await asyncio.sleep(0.5)
        resumed.append(True)

    loop = adapter.ProcessLoop()
    before = loop.run(_loop_id())
    old = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(_Interrupted):
            loop.run(slow())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert before not in adapter._loops
    after = loop.run(asyncio.sleep(0.6, result=None))  # time enough for the old task, were it alive
    assert after is None and resumed == []
    loop.close()
