"""Payouts per second through the whole pipeline vs no-op RQ jobs (same worker class and count).

Pipeline: outbox relay -> RQ worker process -> Daraja simulator over HTTP (B2C v3, rate limiter off)
-> result callback over HTTP -> callback app (ledger post, then the receipt job in the same process).
The no-op run is the queue's own ceiling.
Also CPU time per payout (worker process trees; and everything: workers, simulator, callback app, relay).

    .venv/bin/python bench/bench_payouts.py --payouts 200 --noop 1000 --workers 4 [--simple] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import psutil
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import CpuSampler, Row
from core.money import Asset, Money
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments import service
from tests.integration.payouts.harness import Relay, Stack, funded_wallet, wait_final
from webapp.schema import upgrade

PG_ADMIN = os.environ.get("KIBETI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_ADMIN = os.environ.get("KIBETI_TEST_REDIS", "redis://127.0.0.1:6379/0")


LAST: dict[str, float] = {}  # the last run_payouts' CPU per payout by process kind (ms)


def lease_redis_db(admin: Redis) -> tuple[int, str]:
    """An exclusive lease on a Redis database index (1-15), the one tests/conftest.py takes: a test
    session given the same index would flush it, and its jobs, in the middle of a run."""
    owner = f"bench_payouts:{os.getpid()}:{uuid.uuid4().hex}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for index in range(1, 16):
            if admin.set(f"kibeti:test:db-lease:{index}", owner, nx=True, ex=3600):
                return index, owner
        time.sleep(1)
    raise TimeoutError("every Redis test database stayed leased for 300 s")


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for p in [process, *process.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            continue
    return total


def wait_workers(redis: Redis, count: int) -> None:
    deadline = time.monotonic() + 60
    while Worker.count(connection=redis) < count:
        if time.monotonic() > deadline:
            raise TimeoutError("workers did not start")
        time.sleep(0.2)


def stop_workers(stack: Stack, redis: Redis) -> None:
    for process in stack.workers:
        stack.kill_worker(process)
    stack.workers.clear()
    for registered in Worker.all(connection=redis):  # forget the killed workers' registrations
        registered.register_death()  # type: ignore[no-untyped-call]


def run_noop(stack: Stack, jobs: int, workers: int, simple: bool) -> tuple[float, float]:
    redis = Redis.from_url(stack.redis_url)
    for _ in range(workers):
        stack.start_worker(simple=simple, KIBETI_WORKER_PRELOAD="bench.noop_jobs")
    wait_workers(redis, workers)
    pids = [w.pid for w in stack.workers]
    queue = Queue("payouts", connection=redis)
    cpu0, t0 = cpu_of(pids), time.perf_counter()
    with redis.pipeline() as pipe:
        for n in range(jobs):
            queue.enqueue("bench.noop_jobs.noop", job_id=f"noop-{n}", pipeline=pipe, result_ttl=600)
        pipe.execute()
    while queue.finished_job_registry.count < jobs:
        time.sleep(0.02)
    elapsed, cpu = time.perf_counter() - t0, cpu_of(pids) - cpu0
    stop_workers(stack, redis)
    return jobs / elapsed, cpu / jobs


async def wait_outbox_drained(factory: object, timeout: float) -> float:
    """When every outbox row is done: after `succeeded`, the receipt job (core.flows) still runs."""
    deadline = time.monotonic() + timeout
    query = select(func.count()).select_from(OutboxJob).where(OutboxJob.status != OutboxStatus.DONE.value)
    while time.monotonic() < deadline:
        async with factory() as session:  # type: ignore[operator]
            if (await session.execute(query)).scalar_one() == 0:
                break
        await asyncio.sleep(0.1)
    return time.perf_counter()


async def run_payouts(
    stack: Stack, payouts: int, workers: int, simple: bool, offset: int = 0
) -> tuple[float, float, float, int]:
    redis = Redis.from_url(stack.redis_url)
    relay = Relay(stack)
    factory = relay.runtime.session_factory
    ids = []
    for n in range(payouts):
        wallet = await funded_wallet(factory, 10_000 + offset + n, 1000)
        async with factory() as session:
            payout = await service.create_payout(
                session=session,
                idempotency_key=f"bench-{offset}-{n}",
                account_id=wallet,
                phone=f"0712{n:06d}",
                amount=Money.of(100, Asset.KES),
                customer_id=10_000 + offset + n,
            )
            await session.commit()
        ids.append(payout.id)
    for _ in range(workers):
        stack.start_worker(simple=simple)
    wait_workers(redis, workers)
    worker_pids = [w.pid for w in stack.workers]
    all_pids = [*worker_pids, *(p.pid for p in stack.processes)]
    me = psutil.Process()
    cpu_w0, cpu_all0, me0 = cpu_of(worker_pids), cpu_of(all_pids), sum(me.cpu_times()[:2])
    sim_pid, app_pid = stack.processes[0].pid, stack.processes[1].pid
    sim0, app0 = cpu_of([sim_pid]), cpu_of([app_pid])
    t0 = time.perf_counter()
    database = stack.pg_url.rsplit("/", 1)[1]
    with CpuSampler(f" {database} ") as pg_cpu, CpuSampler("redis-server") as redis_cpu:
        relay.start()
        rows = await wait_final(factory, ids, timeout=600)
        elapsed = time.perf_counter() - t0
        cpu_workers = cpu_of(worker_pids) - cpu_w0
        cpu_all = cpu_of(all_pids) - cpu_all0 + sum(me.cpu_times()[:2]) - me0
        print(
            f"every payout succeeded {elapsed:.1f}s after the start: workers {cpu_workers * 1000 / payouts:.1f} CPU ms/payout"
        )
        # on until every outbox row is done: the receipt job each succeeded payout stages is its cost too
        drained = await wait_outbox_drained(factory, timeout=300)
    succeeded = sum(1 for r in rows if r.status == "succeeded")
    LAST.update(
        pg_ms=pg_cpu.seconds * 1000 / payouts,
        redis_ms=redis_cpu.seconds * 1000 / payouts,
        workers_ms=(cpu_of(worker_pids) - cpu_w0) * 1000 / payouts,
        app_ms=(cpu_of([app_pid]) - app0) * 1000 / payouts,
        sim_ms=(cpu_of([sim_pid]) - sim0) * 1000 / payouts,
        me_ms=(sum(me.cpu_times()[:2]) - me0) * 1000 / payouts,
    )
    print(
        f"every outbox row done {drained - t0:.1f}s after the start; CPU ms/payout: workers {LAST['workers_ms']:.1f}, "
        f"callback app {LAST['app_ms']:.1f}, PostgreSQL backends {LAST['pg_ms']:.1f}, Redis {LAST['redis_ms']:.1f}, "
        f"simulator {LAST['sim_ms']:.1f}, relay + bench poller {LAST['me_ms']:.1f}"
    )
    await relay.stop()
    stop_workers(stack, redis)
    return payouts / elapsed, cpu_workers / payouts, cpu_all / payouts, succeeded


async def measure(
    payouts: int, workers: int, classes: list[bool], noop: int = 0
) -> dict[bool, dict[str, float]]:
    """CPU per payout by process kind for each worker class (False: forking Worker, True: SimpleWorker)."""
    name = f"kibeti_bench_payouts_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    pg_url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    await asyncio.to_thread(upgrade, pg_url)
    admin_redis = Redis.from_url(REDIS_ADMIN)
    db_index, lease_owner = lease_redis_db(admin_redis)
    redis_url = REDIS_ADMIN.rsplit("/", 1)[0] + f"/{db_index}"
    Redis.from_url(redis_url).flushdb()
    results: dict[bool, dict[str, float]] = {}
    stack = Stack(pg_url=pg_url, redis_url=redis_url)
    try:
        stack.start_servers(MPESA_RECONCILE_AFTER_S="600")
        stack.sim("POST", "/simulator/config", json={"callback_delay_s": 0.0, "lock_subscriber": False})
        for index, simple in enumerate(classes):
            rate, _cpu_workers, _cpu_all, ok = await run_payouts(
                stack, payouts, workers, simple, 100_000 * index
            )
            results[simple] = {**LAST, "rate": rate, "succeeded": ok}
    finally:
        stack.stop()
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if admin_redis.get(f"kibeti:test:db-lease:{db_index}") == lease_owner.encode():
            admin_redis.delete(f"kibeti:test:db-lease:{db_index}")
    return results


def production_ms(figures: dict[str, float]) -> float:
    """What an operator pays per payout, until every outbox row is done (the receipt job included):
    workers, callback app, PostgreSQL backends, Redis (not the Daraja simulator, not the bench's
    relay and poller, whose queries do count in the PostgreSQL figure)."""
    return figures["workers_ms"] + figures["app_ms"] + figures["pg_ms"] + figures["redis_ms"]


def run(short: bool) -> list[Row]:
    """`make bench`: CPU per payout across the processes production runs, per worker class."""
    payouts = 60 if short else 150
    results = asyncio.run(measure(payouts, 4, [True, False]))
    rows = []
    for simple, figures in results.items():
        label = "SimpleWorker (the production default)" if simple else "Worker (--fork: a work-horse per job)"
        total = production_ms(figures)
        rows.append(
            Row(figure=f"payouts: CPU per payout, {label}", value=total, unit="ms", target="<= 15 ms",
                met=total <= 15 and figures["succeeded"] == payouts,
                note=(f"workers {figures['workers_ms']:.1f} + callback app {figures['app_ms']:.1f} + PostgreSQL "
                      f"{figures['pg_ms']:.1f} + Redis {figures['redis_ms']:.1f}; {figures['succeeded']:.0f}/{payouts} "
                      f"succeeded, {figures['rate']:.1f}/s"))
        )  # fmt: skip
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payouts", type=int, default=200)
    parser.add_argument("--noop", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--simple", action="store_true", help="SimpleWorker instead of the forking Worker")
    parser.add_argument("--write", action="store_true", help="write the results into BENCHMARKS.md")
    args = parser.parse_args()

    name = f"kibeti_bench_payouts_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    pg_url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    await asyncio.to_thread(upgrade, pg_url)
    admin_redis = Redis.from_url(REDIS_ADMIN)
    db_index, lease_owner = lease_redis_db(admin_redis)
    redis_url = REDIS_ADMIN.rsplit("/", 1)[0] + f"/{db_index}"
    Redis.from_url(redis_url).flushdb()

    stack = Stack(pg_url=pg_url, redis_url=redis_url)
    try:
        stack.start_servers(MPESA_RECONCILE_AFTER_S="600")
        stack.sim("POST", "/simulator/config", json={"callback_delay_s": 0.0, "lock_subscriber": False})
        noop_rate, noop_cpu = run_noop(stack, args.noop, args.workers, args.simple)
        rate, cpu_workers, cpu_all, ok = await run_payouts(stack, args.payouts, args.workers, args.simple)
    finally:
        stack.stop()
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if admin_redis.get(f"kibeti:test:db-lease:{db_index}") == lease_owner.encode():
            admin_redis.delete(f"kibeti:test:db-lease:{db_index}")
    worker_class = "SimpleWorker" if args.simple else "Worker (fork per job)"
    lines = [
        f"| {worker_class} | {args.workers} | {noop_rate:.1f} | {rate:.1f} | {rate / noop_rate:.2f}x "
        f"| {noop_cpu * 1000:.1f} | {cpu_workers * 1000:.1f} | {cpu_all * 1000:.1f} | {ok}/{args.payouts} |"
    ]
    print(
        "| worker class | workers | no-op jobs/s | payouts/s | ratio | no-op CPU ms/job "
        "| worker CPU ms/payout | total CPU ms/payout | succeeded |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))
    load = os.getloadavg()[0]
    print(f"load average at start ~{load:.2f} on {os.cpu_count()} CPUs, Python {platform.python_version()}")


if __name__ == "__main__":
    asyncio.run(main())
