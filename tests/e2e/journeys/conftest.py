"""Issue journeys end to end on the embedded default: the real ASGI app served by uvicorn on a
local port (so the Daraja simulator mounted at /daraja-sim can call back by itself), a SQLite file,
the in-process queue and scheduler, the Africa's Talking fake and the simulated chains.

Everything a customer does goes over HTTP exactly as Africa's Talking posts it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from core import runtime as runtime_module
from core.config import Settings
from core.outbox.models import OutboxJob, OutboxStatus
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from tests.e2e.ussd.conftest import PIN as PIN  # the PIN every journey registers with
from tests.e2e.ussd.conftest import TOKEN, AtPhone, customer_id_of
from tests.e2e.ussd.conftest import register as ussd_register
from tests.polling import eventually as eventually  # the one polling helper (tests/polling.py)
from webapp import scheduler
from webapp.api import mpesa as mpesa_api
from webapp.app import create_app
from webapp.bootstrap import build_runtime

ROOT = Path(__file__).resolve().parents[3]


def bound_socket() -> socket.socket:
    """A listening address chosen by the kernel and kept bound until uvicorn serves on it (a port
    picked, freed and bound again later can be taken meanwhile by any outgoing connection)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class CalmPhone(AtPhone):
    """A handset whose user waits for the app's background jobs to finish before each key press."""

    def __init__(self, client: httpx.AsyncClient, number: str, rt: Runtime) -> None:
        super().__init__(client, number)
        self.rt = rt

    async def hop(self, text: str | None = None) -> str:
        await settle(self.rt)
        return await super().hop(text)


@pytest.fixture
def at_fake() -> Iterator[FakeAfricasTalking]:
    server = FakeAfricasTalking().start()
    yield server
    server.stop()


class Stack:
    """The running app: its Runtime (for reading the books), base URL, HTTP client and AT fake."""

    def __init__(self, rt: Runtime, url: str, http: httpx.AsyncClient, at: FakeAfricasTalking) -> None:
        self.rt, self.url, self.http, self.at = rt, url, http, at

    def phone(self, number: str) -> AtPhone:
        return CalmPhone(self.http, number, self.rt)

    def env(self) -> dict[str, str]:
        """The environment a `kibeti` subprocess needs to work on this stack's database."""
        s = self.rt.settings
        return {
            **os.environ,
            "DATABASE_URL": s.database_url,
            "REDIS_URL": "",
            "DATA_DIR": str(s.data_dir),
            "AT_BASE_URL": self.at.url,
            "MPESA_CALLBACK_BASE_URL": self.url,
        }

    async def kibeti(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI in a subprocess; the app keeps serving meanwhile (its loop is not blocked)."""
        result = await asyncio.to_thread(
            subprocess.run,
            [str(Path(sys.executable).with_name("kibeti")), *args],
            cwd=ROOT, env={**self.env(), **(env or {})}, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if check:
            assert result.returncode == 0, f"kibeti {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result


@pytest.fixture
async def stack(
    sqlite_url: str, tmp_path: Path, at_fake: FakeAfricasTalking, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    # Periodic jobs run once at start-up, then only when a journey asks (e.g. a chain scan mines a
    # block on the simulated chain, so confirmations are counted exactly).
    monkeypatch.setattr(scheduler, "PERIODIC_JOBS", [(job, 3600.0) for job, _ in scheduler.PERIODIC_JOBS])
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        kibeti_env="test", database_url=sqlite_url, redis_url="", data_dir=tmp_path / "var",
        at_base_url=at_fake.url, at_callback_token=TOKEN, mpesa_base_url="", mpesa_callback_base_url=url,
    )  # fmt: skip
    rt = build_runtime(settings)
    runtime_module.install(rt)
    app = create_app(rt)  # embedded: the scheduler and the job queue run inside
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        started_by = asyncio.get_running_loop().time() + 60  # start-up runs the periodic jobs once
        while not server.started and not serving.done() and asyncio.get_running_loop().time() < started_by:
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        await asyncio.sleep(0.5)
        await settle(rt)
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:  # bounds a hop on a busy machine
            # A customer takes seconds to type the M-Pesa PIN. The simulator's default 50 ms lets the
            # STK callback overtake the job recording the push's CheckoutRequestID on a busy machine;
            # the callback is then unknown, and only the (here hourly) reconciler would heal it.
            steered = await http.post(f"{url}/daraja-sim/simulator/stk/behaviour", json={"delay_s": 3.0})
            assert steered.status_code == 200, steered.text
            yield Stack(rt, url, http, at_fake)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, timeout=15)
        await _close_embedded_simulator()
        await rt.session_factory.kw["bind"].dispose()
        sock.close()
        gc.collect()  # finalise this loop's sockets now, under this test's warning filters


async def _close_embedded_simulator() -> None:
    """The simulator mounted at /daraja-sim outlives the app (module-level mount) with an open
    httpx client bound to this test's loop: close it and start the next test with a fresh one."""
    for route in mpesa_api.router.routes:
        mounted = getattr(route, "app", None)
        if isinstance(mounted, mpesa_api.EmbeddedSimulator) and mounted._app is not None:
            simulator = mounted._app.state.simulator
            with contextlib.suppress(Exception):
                await asyncio.wait_for(simulator.drain(), timeout=5)
            if simulator._http is not None:
                await simulator._http.aclose()
            mounted._app = None


async def settle(rt: Runtime) -> None:
    """Wait until the app's background jobs and outbox are idle, so each step starts from a known
    state (a user who reads the previous SMS before pressing the next key)."""
    queue = rt.queue
    await asyncio.sleep(0.02)  # a job enqueued just now starts on the loop's next turn
    give_up_at = asyncio.get_running_loop().time() + 60  # a bound on a busy machine, not a timing check
    while asyncio.get_running_loop().time() < give_up_at:
        if not getattr(queue, "_pending", None) and not await _outbox_pending(rt):
            return
        await asyncio.sleep(0.05)


async def _outbox_pending(rt: Runtime) -> int:
    async with rt.session_factory() as session:
        query = (
            select(func.count()).select_from(OutboxJob).where(OutboxJob.status == OutboxStatus.PENDING.value)
        )
        return int((await session.execute(query)).scalar_one())


async def register(phone: AtPhone, language: str, name: str, id_number: str = "12345678") -> str:
    """Dial, choose the language, give name and ID, accept the terms, choose and confirm the PIN."""
    return await ussd_register(phone, language, name, national_id=id_number)


async def paybill(stack: Stack, phone: str, amount: str) -> None:
    """The customer pays the paybill from M-Pesa: C2B URLs registered (nothing in the app does it,
    see the report), then the simulator's C2B with the customer number as the account."""
    customer_id = await customer_id_of(stack.rt, phone)
    sim = f"{stack.url}/daraja-sim"
    token = (
        await stack.http.get(
            f"{sim}/oauth/v1/generate", params={"grant_type": "client_credentials"}, auth=("key", "secret")
        )
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    secret = stack.rt.settings.mpesa_callback_token.get_secret_value()
    base = f"{stack.url}/mpesa/{secret}"
    registered = await stack.http.post(
        f"{sim}/mpesa/c2b/v1/registerurl",
        headers=headers,
        json={"ShortCode": "600000", "ResponseType": "Completed", "ConfirmationURL": f"{base}/c2b/confirmation",
              "ValidationURL": f"{base}/c2b/validation"},
    )  # fmt: skip
    assert registered.status_code == 200, registered.text
    paid = await stack.http.post(
        f"{sim}/mpesa/c2b/v1/simulate",
        headers=headers,
        json={"ShortCode": "600000", "CommandID": "CustomerPayBillOnline", "Amount": amount,
              "Msisdn": phone.lstrip("+"), "BillRefNumber": str(customer_id)},
    )  # fmt: skip
    assert paid.status_code == 200, paid.text


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e/journeys" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
            # web3 (wallets) imports websockets.legacy after uvicorn loaded the new websockets
            item.add_marker(
                pytest.mark.filterwarnings("ignore:websockets.legacy is deprecated:DeprecationWarning")
            )
