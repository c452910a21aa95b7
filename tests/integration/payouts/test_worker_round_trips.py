"""payouts.worker.PayoutsWorker, the production worker class: RQ's SimpleWorker with its repeated
heartbeats, repeated idle state and per-job suspend lookups left out, on a real Redis. The worker's
key never expires under a live worker: whenever a heartbeat is skipped, the key still outlives the
longest blocking dequeue."""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis
from rq import Queue, SimpleWorker

from payouts.worker import PayoutsForkingWorker, PayoutsWorker


def test_the_production_class_is_a_simple_worker() -> None:
    assert issubclass(PayoutsWorker, SimpleWorker)
    assert not issubclass(PayoutsForkingWorker, SimpleWorker)


def _ttl(connection: redis.Redis, key: str) -> int:
    return int(cast(int, connection.ttl(key)))


def test_a_skipped_heartbeat_leaves_the_key_outliving_the_longest_wait(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = redis.Redis.from_url(redis_url)
    worker = PayoutsWorker(["payouts"], connection=connection)
    worker.register_birth()  # type: ignore[no-untyped-call]
    sent: list[int | None] = []
    original = SimpleWorker.heartbeat

    def counting(self: SimpleWorker, timeout: int | None = None, pipeline: Any = None) -> None:
        sent.append(timeout)
        original(self, timeout, pipeline)

    monkeypatch.setattr(SimpleWorker, "heartbeat", counting)
    try:
        worker.heartbeat()
        worker.heartbeat()  # skipped: the key was just given worker_ttl + 60 s
        assert sent == [None]
        assert _ttl(connection, worker.key) > worker.dequeue_timeout
        with connection.pipeline() as pipeline:  # a job starts: RQ's own heartbeat, job timeout + 60 s
            worker.heartbeat(180, pipeline=pipeline)
            pipeline.execute()
        worker.heartbeat()  # not skipped: 180 s would not outlive a blocking dequeue
        assert sent == [None, 180, None]
        assert _ttl(connection, worker.key) > worker.dequeue_timeout
    finally:
        worker.register_death()  # type: ignore[no-untyped-call]


def test_jobs_run_and_the_worker_stays_registered(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue("payouts", connection=connection)
    jobs = [queue.enqueue("builtins.len", args=([1] * n,)) for n in range(5)]
    worker = PayoutsWorker([queue], connection=connection)
    assert worker.work(burst=True)
    assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * 5
    assert worker.get_state() == "idle"
