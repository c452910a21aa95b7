"""The SMS job on a real RQ worker (Redis), sending through the AT SDK to the local fake."""

from __future__ import annotations

import asyncio
import gc

import pytest
import redis
from prometheus_client import REGISTRY
from rq import Queue, SimpleWorker
from rq.job import Job

from channels.sms.adapter import JOB
from core import runtime as runtime_module
from core.config import Settings
from simulators.africastalking import FakeAfricasTalking
from webapp.bootstrap import build_runtime


def _sends(outcome: str) -> float:
    return REGISTRY.get_sample_value("kibeti_sms_sends_total", {"outcome": outcome}) or 0.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # web3 (wallets adapter) imports websockets.legacy
@pytest.mark.filterwarnings("ignore::ResourceWarning")  # RQ leaves each async job's event loop unclosed
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_send_sms_job_runs_on_an_rq_worker(sqlite_url: str, redis_url: str) -> None:
    fake = FakeAfricasTalking().start()
    fake.fail["+254799000000"] = (406, "UserInBlacklist")
    connection = redis.Redis.from_url(redis_url)
    try:
        settings = Settings(
            kibeti_env="test", database_url=sqlite_url, redis_url=redis_url, at_base_url=fake.url
        )
        rt = build_runtime(settings, for_worker=True)
        runtime_module.install(rt)
        queue = Queue("default", connection=connection)
        accepted_before, refused_before = _sends("accepted"), _sends("refused")
        ok = queue.enqueue(JOB, kwargs={"phone": "+254712345678", "text": "Kibeti: “hi”", "reference": "r1"})
        refused = queue.enqueue(JOB, kwargs={"phone": "+254799000000", "text": "x", "reference": "r2"})
        SimpleWorker([queue], connection=connection).work(burst=True)
        assert Job.fetch(ok.id, connection=connection).return_value().startswith("ATXid_")
        assert (
            Job.fetch(refused.id, connection=connection).return_value() == ""
        )  # refused for good: not retried
        # counted for /metrics (kibeti_sms_sends_total{outcome}), by AT's answer
        assert (_sends("accepted") - accepted_before, _sends("refused") - refused_before) == (1, 1)
        [message] = fake.messages_for("+254712345678")
        assert message.message == 'Kibeti: "hi"'
        asyncio.run(rt.session_factory.kw["bind"].dispose())
        asyncio.run(rt.redis.aclose())
        rt.queue.connection.close()  # type: ignore[attr-defined]
        gc.collect()  # finalise RQ's per-job loops here, under this test's warning filters
    finally:
        connection.close()
        fake.stop()
