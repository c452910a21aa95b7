"""RQ job durations for Prometheus: workers time each job they perform and, with `--metrics-port`,
serve their own /metrics (a worker container's work-horses share its PROMETHEUS_MULTIPROC_DIR, so
the parent process answers for all of them)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, multiprocess, start_http_server
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.queue import Queue

JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

RQ_JOB_DURATION = Histogram(
    "kibeti_rq_job_duration_seconds",
    "Time an RQ worker took to perform a job, by queue, job function and outcome.",
    ["queue", "job", "outcome"],
    buckets=JOB_BUCKETS,
)


class _Timed:
    def perform_job(self, job: Job, queue: Queue) -> bool:
        started = time.perf_counter()
        succeeded = False
        try:
            succeeded = bool(super().perform_job(job, queue))  # type: ignore[misc]
            return succeeded
        finally:
            outcome = "ok" if succeeded else "failed"
            RQ_JOB_DURATION.labels(queue.name, job.func_name, outcome).observe(time.perf_counter() - started)


class MeasuredWorker(_Timed, Worker):
    """RQ's forking worker, timing each job in its work-horse."""


class MeasuredSimpleWorker(_Timed, SimpleWorker):
    """RQ's in-process worker, timing each job."""


def serve_metrics(port: int, *, multiprocess_dir: str) -> Any:
    """This worker's /metrics on `port` (all its work-horses' jobs in multiprocess mode)."""
    registry: CollectorRegistry = REGISTRY
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return start_http_server(port, registry=registry)
