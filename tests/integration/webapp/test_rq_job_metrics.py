"""RQ job durations reach Prometheus (issue 21 item 4): a real worker on the real Redis times each
job by queue, function and outcome, and `kibeti worker rq --metrics-port` serves them."""

from __future__ import annotations

import urllib.request

from prometheus_client import REGISTRY
from redis import Redis
from rq import Queue

from tests.e2e.journeys.conftest import bound_socket
from webapp.observability.rq_metrics import MeasuredSimpleWorker, serve_metrics

OK_JOB = "tests.integration.webapp.rq_sample_jobs.finishes"
FAILING_JOB = "tests.integration.webapp.rq_sample_jobs.raises"


def _count(job: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "kibeti_rq_job_duration_seconds_count", {"queue": "metrics-test", "job": job, "outcome": outcome}
    )
    return value or 0.0


def test_each_job_is_timed_by_queue_function_and_outcome(redis_url: str) -> None:
    connection = Redis.from_url(redis_url)
    queue = Queue("metrics-test", connection=connection)
    before_ok, before_failed = _count(OK_JOB, "ok"), _count(FAILING_JOB, "failed")
    queue.enqueue(OK_JOB)
    queue.enqueue(OK_JOB)
    queue.enqueue(FAILING_JOB)
    MeasuredSimpleWorker([queue], connection=connection).work(burst=True)
    assert _count(OK_JOB, "ok") - before_ok == 2
    assert _count(FAILING_JOB, "failed") - before_failed == 1


def test_the_worker_serves_its_metrics(redis_url: str) -> None:
    connection = Redis.from_url(redis_url)
    queue = Queue("metrics-test", connection=connection)
    queue.enqueue(OK_JOB)
    MeasuredSimpleWorker([queue], connection=connection).work(burst=True)
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    server, thread = serve_metrics(port, multiprocess_dir="")
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert f'kibeti_rq_job_duration_seconds_count{{job="{OK_JOB}",outcome="ok",queue="metrics-test"}}' in body
