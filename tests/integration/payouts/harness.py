"""Real processes for the payouts tests: the Daraja simulator and the callback app over HTTP (uvicorn),
RQ worker processes, and an outbox relay running in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redis import Redis
from sqlalchemy import func, select

from core import runtime as runtime_module
from core.config import Settings
from core.ledger import service as ledger
from core.ledger.models import AccountKind, Hold, HoldStatus, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.money import Asset, Money
from core.outbox.service import relay
from core.payments.models import FINAL_PAYOUT, Payout
from webapp.bootstrap import build_runtime
from webapp.queues import RQJobQueue

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "test-callback-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


@dataclass
class Stack:
    pg_url: str
    redis_url: str
    sim_url: str = ""
    app_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def settings(self) -> Settings:
        return Settings(
            kibeti_env="test",
            database_url=self.pg_url,
            redis_url=self.redis_url,
            mpesa_base_url=self.sim_url,
            mpesa_callback_base_url=self.app_url,
            mpesa_callback_token=TOKEN,
            mpesa_b2c_rate_per_hour=int(self.env.get("MPESA_B2C_RATE_PER_HOUR", "0")),
        )

    def _spawn(self, args: list[str], extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env, **(extra or {})}
        logs = os.environ.get("KIBETI_TEST_LOGS")  # a directory: keep each process's output for debugging
        if logs:
            with open(Path(logs) / f"{args[2]}-{len(self.processes) + len(self.workers)}.log", "ab") as out:
                return subprocess.Popen(
                    args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        """kill -9 the worker's whole process group: the worker, its work-horse and its scheduler."""
        if worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    def start_servers(self, **env: str) -> None:
        sim_port, app_port = free_port(), free_port()
        self.sim_url, self.app_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{app_port}"
        self.env.update(
            DATABASE_URL=self.pg_url,
            REDIS_URL=self.redis_url,
            MPESA_BASE_URL=self.sim_url,
            MPESA_CALLBACK_BASE_URL=self.app_url,
            MPESA_CALLBACK_TOKEN=TOKEN,
            MPESA_B2C_RATE_PER_HOUR="0",
            KIBETI_ENV="test",
            **env,
        )
        self.processes.append(
            self._spawn([sys.executable, "-m", "simulators.daraja.simulator", "--port", str(sim_port)])
        )
        app = "tests.integration.payouts.callback_app:create_app"
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--port",
            str(app_port),
            "--log-level",
            "warning",
        ]
        self.processes.append(self._spawn(uvicorn))
        wait_http(self.sim_url + "/")
        wait_http(self.app_url + "/docs")

    def start_worker(self, *, simple: bool | None = None, **env: str) -> subprocess.Popen[bytes]:
        """A worker of the production default class (None), SimpleWorker (True) or forking (False)."""
        args = [sys.executable, "-m", "payouts.worker", "--queues", "payouts,default"]
        flag = [] if simple is None else ["--simple"] if simple else ["--fork"]
        worker = self._spawn([*args, *flag], env)
        self.workers.append(worker)
        return worker

    def sim(self, method: str, path: str, **kwargs: object) -> object:
        response = httpx.request(method, self.sim_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        """Stop every process this stack started, with its process group (idempotent).

        A worker that died (a chaos test's kill -9) leaves its RQ scheduler child running in its
        group, consuming the test's Redis database after the test: those groups get SIGKILL too.
        Linux keeps a pid from reuse while a process group of that id has members, so only our own
        stragglers are hit."""
        ended = [p for p in [*self.workers, *self.processes] if p.poll() is not None]
        for process in ended:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        running = [p for p in [*self.workers, *self.processes] if p.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in running:
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if process.poll() is None:  # still alive (so the group id is still ours): force it
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.workers.clear()
        self.processes.clear()


class Relay:
    """The outbox relay (what `kibeti scheduler` does), in the test's event loop."""

    def __init__(self, stack: Stack) -> None:
        self.runtime = build_runtime(stack.settings())
        self.runtime.queue = RQJobQueue(Redis.from_url(stack.redis_url))
        runtime_module.install(self.runtime)
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await relay(session_factory=self.runtime.session_factory, queue=self.runtime.queue)
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.runtime.session_factory.kw["bind"].dispose()


async def funded_wallet(session_factory: object, customer_id: int, shillings: int) -> int:
    async with session_factory() as session:  # type: ignore[operator]
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=customer_id, asset=Asset.KES
        )
        float_account = await ledger.system_account(
            session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
        )
        money = Money.of(shillings, Asset.KES)
        await ledger.post_entry(
            session=session,
            idempotency_key=f"fund:{customer_id}",
            kind="test_funding",
            postings=[PostingRequest(float_account.id, -money), PostingRequest(wallet.id, money)],
        )
        await session.commit()
        return wallet.id


async def wait_final(
    session_factory: object, ids: list[str], timeout: float, tick: object = None
) -> list[Payout]:
    deadline = time.monotonic() + timeout
    while True:
        async with session_factory() as session:  # type: ignore[operator]
            rows = list((await session.execute(select(Payout).where(Payout.id.in_(ids)))).scalars().all())
        if all(r.status in FINAL_PAYOUT for r in rows) or time.monotonic() > deadline:
            return rows
        if tick is not None:
            await tick()  # type: ignore[operator]
        await asyncio.sleep(0.3)


async def wait_callbacks(session_factory: object, kind: str, count: int, timeout: float = 30) -> None:
    """Wait until `count` callbacks of `kind` are stored (a duplicate or late one in flight)."""
    from core.payments.models import MpesaCallback

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session_factory() as session:  # type: ignore[operator]
            stored = (await session.execute(select(MpesaCallback.id).where(MpesaCallback.kind == kind))).all()
        if len(stored) >= count:
            return
        await asyncio.sleep(0.2)


async def pending_holds(session_factory: object) -> int:
    async with session_factory() as session:  # type: ignore[operator]
        query = select(func.count()).select_from(Hold).where(Hold.status == HoldStatus.PENDING.value)
        return int((await session.execute(query)).scalar_one())


async def ledger_ok(session_factory: object) -> list[str]:
    async with session_factory() as session:  # type: ignore[operator]
        report = await verify(session=session)
    return report.problems
