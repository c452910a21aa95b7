"""Every job kind runs where what it needs is (issue 11 item 9).

The job kinds are found, not listed: the scheduler's periodic jobs, and every `enqueue(job=...,
queue=...)` call in the production packages. Each job's queue must be served, in docker-compose.yml,
only by `kibeti worker rq` processes whose environment has what the job needs: the signer's jobs
need the sealed seed (and the passphrase that opens it), which only the signer holds. A service's
environment is its `env_file` (.env, whose template is .env.example) overlaid with `environment`;
an empty value is no value.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import SystemClock
from core.config import Settings
from core.runtime import Runtime
from wallets.gateway import SIGNER_QUEUE
from wallets.jobs import SIGNER_JOBS
from webapp import scheduler
from webapp.cli.worker import rq_worker

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("core", "wallets", "payouts", "compliance", "channels", "webapp")
BASE_NEEDS = frozenset({"DATABASE_URL", "REDIS_URL", "KIBETI_ENV"})
SEED_NEEDS = frozenset({"WALLET_SEED_SEALED", "MASTER_PASSPHRASE"})


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _value(expression: ast.expr, namespace: dict[str, Any]) -> Any:
    try:
        return eval(compile(ast.Expression(expression), "<job>", "eval"), dict(namespace))
    except Exception:  # a parameter or local variable: not a job kind declared at this call
        return None


def enqueued_jobs() -> Iterator[tuple[str, str, str]]:
    """(job, queue, where) for every enqueue call with a job and queue known at import time."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            calls = [
                node
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "enqueue"
            ]
            if not calls:
                continue
            namespace = vars(importlib.import_module(_module_name(path)))
            for call in calls:
                keywords = {k.arg: k.value for k in call.keywords}
                job = _value(keywords["job"], namespace) if "job" in keywords else None
                if not isinstance(job, str) or "." not in job:
                    continue
                queue = _value(keywords["queue"], namespace) if "queue" in keywords else "default"
                assert isinstance(queue, str), f"{path}:{call.lineno}: the queue of {job} is not a constant"
                yield job, queue, f"{path.relative_to(ROOT)}:{call.lineno}"


def every_job() -> dict[str, str]:
    jobs = {job: scheduler.queue_of(job) for job, _ in scheduler.available_jobs()}
    for job, queue, where in enqueued_jobs():
        assert jobs.setdefault(job, queue) == queue, f"{where}: {job} is enqueued on two queues"
    return jobs


def _env_file(name: str) -> dict[str, str]:
    """An env file's variables; `.env` is local, so its committed template stands in for it."""
    path = ROOT / name
    if name == ".env" or not path.exists():
        path = ROOT / ".env.example"
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def compose_workers() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """service -> (queues it serves, environment variables it is given a value) for each RQ worker."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    default_queues = next(p.default for p in rq_worker.params if p.name == "queues")
    workers = {}
    for name, service in services.items():
        command = [str(part) for part in service.get("command") or []]
        if command[:3] != ["kibeti", "worker", "rq"]:
            continue
        queues = command[command.index("--queues") + 1] if "--queues" in command else str(default_queues)
        files = service.get("env_file") or []
        environment: dict[str, str] = {}
        for env_file in [files] if isinstance(files, str) else files:
            environment.update(_env_file(str(env_file)))
        environment.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
        # a value in .env.example stands for "the operator fills it in"; only an explicit "" is unset
        given = frozenset(
            k for k, v in environment.items() if v != "" or k not in (service.get("environment") or {})
        )
        workers[name] = (frozenset(q.strip() for q in queues.split(",") if q.strip()), given)
    return workers


def test_the_job_kinds_are_found() -> None:
    jobs = every_job()
    assert "payouts.jobs.send_payout" in jobs and "channels.sms.jobs.send_sms" in jobs
    assert jobs.keys() >= SIGNER_JOBS


@pytest.mark.parametrize("job", sorted(every_job()))
def test_each_job_is_served_only_by_processes_that_have_what_it_needs(job: str) -> None:
    queue = every_job()[job]
    needs = BASE_NEEDS | (SEED_NEEDS if job in SIGNER_JOBS else frozenset())
    serving = {name: env for name, (queues, env) in compose_workers().items() if queue in queues}
    assert serving, f"{job} goes to queue {queue!r}, which no worker in docker-compose.yml serves"
    for name, environment in serving.items():
        missing = needs - environment
        assert not missing, f"{job} (queue {queue!r}) is served by {name}, which lacks {sorted(missing)}"


def test_only_the_signer_holds_the_seed_and_it_serves_only_the_signer_queue() -> None:
    holders = {
        name: queues for name, (queues, env) in compose_workers().items() if "WALLET_SEED_SEALED" in env
    }
    assert holders == {"signer": frozenset({SIGNER_QUEUE})}
    assert all(scheduler.queue_of(job) == SIGNER_QUEUE for job in SIGNER_JOBS)


class RecordingQueue:
    def __init__(self) -> None:
        self.enqueued: dict[str, str] = {}

    def enqueue(self, job: str, *, job_id: str, kwargs: dict[str, Any], queue: str = "default") -> None:
        self.enqueued[job] = queue

    def is_pending(self, job_id: str) -> bool:
        return False


async def test_the_scheduler_puts_the_signer_jobs_on_the_signer_queue(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    queue = RecordingQueue()
    runtime = Runtime(
        settings=Settings(kibeti_env="test"),
        session_factory=session_factory,
        clock=SystemClock(),
        queue=queue,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run_scheduler(runtime, stop=stop))
    deadline = asyncio.get_running_loop().time() + 60
    while (
        len(queue.enqueued) < len(scheduler.available_jobs()) and asyncio.get_running_loop().time() < deadline
    ):
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert queue.enqueued["wallets.jobs.track_withdrawals"] == SIGNER_QUEUE
    assert queue.enqueued["wallets.jobs.sweep_deposits"] == SIGNER_QUEUE
    assert queue.enqueued["core.fx.jobs.refresh_rates"] == "default"
