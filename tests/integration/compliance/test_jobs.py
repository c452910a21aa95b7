from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from compliance import jobs, kyc
from compliance.models import KycProfile
from compliance.sanctions import store
from compliance.sanctions.loader import SanctionsList
from core import runtime as runtime_module
from core.config import Settings
from core.runtime import Runtime


@dataclass
class RecordingQueue:
    jobs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        self.jobs.append((job, job_id, kwargs))

    def is_pending(self, job_id: str) -> bool:
        return False


async def test_rescreen_fans_out_batches_and_skips_superseded(
    factory, clock, full_lists: SanctionsList, monkeypatch
) -> None:
    queue = RecordingQueue()
    rt = Runtime(settings=Settings(kibeti_env="test"), session_factory=factory, clock=clock, queue=queue)
    previous = runtime_module._current
    runtime_module.install(rt)
    monkeypatch.setattr(jobs, "RESCREEN_BATCH", 2)
    try:
        async with factory() as session, session.begin():
            version = await store.save_version(session=session, lists=full_lists, loaded_by="t")
            for customer_id, name in ((1, "Wanjiku Kamau"), (2, "Joseph Kony"), (3, "Otieno Odhiambo")):
                profile = await kyc.ensure_profile(session=session, customer_id=customer_id, now=clock.now())
                profile.full_name, profile.date_of_birth = name, date(1964, 9, 18)
        await jobs.rescreen_customers()
        assert [kw for _job, _id, kw in queue.jobs] == [
            {"list_version": version.id, "first_customer_id": 1, "last_customer_id": 2},
            {"list_version": version.id, "first_customer_id": 3, "last_customer_id": 3},
        ]
        await jobs.rescreen_batch(list_version=version.id + 99, first_customer_id=1, last_customer_id=2)
        async with factory() as session:
            assert (await session.get(KycProfile, 2)).sanctions_checked_at is None  # superseded: nothing done
        for _job, _id, kwargs in queue.jobs:
            await jobs.rescreen_batch(**kwargs)
        async with factory() as session:
            outcomes = {
                p.customer_id: p.sanctions_outcome
                for p in [await session.get(KycProfile, i) for i in (1, 2, 3)]
            }
        assert outcomes == {1: "clear", 2: "block", 3: "clear"}
        await jobs.check_str_deadlines()
    finally:
        runtime_module._current = previous
