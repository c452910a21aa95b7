"""No request can stall the service (issue 11 item 4).

Every staff GET route runs concurrently with USSD hops, on the embedded SQLite default and on
PostgreSQL. A route that opened a second session inside its permission dependency's session waited
30 s for SQLite's write lock (held by its own first session) and froze every USSD hop meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from core import runtime as runtime_module
from core.auth import sessions
from core.auth.models import Role, StaffUser
from core.config import Settings
from core.db.session import make_engine
from core.outbox.models import OutboxJob
from core.runtime import Runtime
from tests.integration.identity.test_authz_matrix import all_api_routes
from webapp.app import create_app
from webapp.bootstrap import build_runtime

AT_TOKEN = "stall-test-at-callback-token-0123456789"
SECRET_KEY = "stall-test-secret-key-0123456789abcdefghij"
# A generous bound: it is not a speed target. A hop takes well under 0.5 s even on this noisy 2-CPU
# box; a hop queued behind a held SQLite write lock waits for the busy timeout (30 s before the fix).
# Anything near 5 s is a lock wait, not slow CPU.
STALL_SECONDS = 5.0
HOPS_PER_ROUTE = 3


@pytest.fixture
async def runtime(db_url: str) -> AsyncIterator[Runtime]:
    settings = Settings(
        kibeti_env="test", database_url=db_url, secret_key=SECRET_KEY, at_callback_token=AT_TOKEN
    )
    rt = build_runtime(settings)
    previous = runtime_module._current
    runtime_module.install(rt)
    yield rt
    runtime_module._current = previous
    await rt.session_factory.kw["bind"].dispose()


async def _admin_token(rt: Runtime, role: Role = Role.ADMIN) -> str:
    async with rt.session_factory() as session:
        staff = StaffUser(
            email=f"{role.value}@kibeti.test",
            role=role.value,
            password_hash="x",
            totp_secret="x",
            last_totp_step=0,
            active=True,
            failed_logins=0,
            created_at=rt.clock.now(),
        )
        session.add(staff)
        await session.flush()
        pair = await sessions.start(session=session, staff=staff, clock=rt.clock, secret_key=SECRET_KEY)
        await session.commit()
    return pair.access_token


async def _timed_hops(client: httpx.AsyncClient, route: str) -> list[str]:
    problems = []
    for hop in range(HOPS_PER_ROUTE):
        form = {
            "sessionId": f"ATUid_stall_{abs(hash(route))}_{hop}",
            "serviceCode": "*483*1#",
            "phoneNumber": f"+2547{hop:02d}{abs(hash(route)) % 1_000_000:06d}",
            "networkCode": "63902",
            "text": "",
        }
        started = time.monotonic()
        response = await client.post(f"/ussd/{AT_TOKEN}", data=form)
        elapsed = time.monotonic() - started
        if response.status_code != 200 or not response.text.startswith("CON "):
            problems.append(f"hop beside {route}: {response.status_code} {response.text[:80]!r}")
        elif elapsed >= STALL_SECONDS:
            problems.append(f"hop beside {route} took {elapsed:.1f} s")
    return problems


async def _timed_get(client: httpx.AsyncClient, url: str, token: str) -> list[str]:
    started = time.monotonic()
    response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    elapsed = time.monotonic() - started
    if response.status_code >= 500:
        return [f"GET {url}: {response.status_code}"]
    if elapsed >= STALL_SECONDS:
        return [f"GET {url} took {elapsed:.1f} s"]
    return []


@pytest.mark.slow
async def test_ussd_hops_answer_while_every_staff_get_route_runs(runtime: Runtime) -> None:
    token = await _admin_token(runtime)
    app = create_app(runtime, run_scheduler_inside=False)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 5555))
    routes = sorted(
        {
            path
            for path, route in all_api_routes(app)
            if path.startswith("/api/staff") and "GET" in route.methods
        }
    )
    assert "/api/staff/payouts/flagged-callbacks" in routes
    problems: list[str] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as client:
        for path in routes:
            url = re.sub(r"\{[^}]+\}", "1", path)
            for found in await asyncio.gather(_timed_get(client, url, token), _timed_hops(client, path)):
                problems.extend(found)
    assert not problems, "\n".join(problems)


async def test_sqlite_uses_wal_and_a_busy_timeout_shorter_than_a_stall(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            timeout_ms = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    finally:
        await engine.dispose()
    assert mode == "wal"
    assert 0 < timeout_ms <= STALL_SECONDS * 1000  # a lock wait fails before it looks like a stall


async def _customer(rt: Runtime, phone: str) -> int:
    from core.identity import service as identity

    async with rt.session_factory() as session:
        customer = await identity.register_customer(
            session=session,
            phone=phone,
            name="Jane Wambui",
            national_id="31234567",
            language="sw",
            pin="7391",
        )
        await session.commit()
        return customer.id


@pytest.mark.slow
async def test_a_staff_pin_reset_sends_its_code_without_waiting_on_its_own_lock(runtime: Runtime) -> None:
    """The one-time code's SMS is staged in the reset's own transaction: a second session for the
    outbox waited for the first one's SQLite write lock (the busy timeout, then a 500)."""
    customer_id = await _customer(runtime, "+254711222333")
    token = await _admin_token(runtime, Role.SUPPORT)  # support resets PINs
    app = create_app(runtime, run_scheduler_inside=False)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=120) as client:
        started = time.monotonic()
        response, problems = await asyncio.gather(
            client.post(
                f"/api/staff/customers/{customer_id}/reset-pin",
                json={"kyc_rechecked": True},
                headers={"Authorization": f"Bearer {token}"},
            ),
            _timed_hops(client, "reset-pin"),
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert elapsed < STALL_SECONDS and not problems, (elapsed, problems)
    async with runtime.session_factory() as session:
        staged = await session.scalar(
            select(func.count()).select_from(OutboxJob).where(OutboxJob.job == "channels.sms.jobs.send_sms")
        )
    assert staged == 1


@pytest.mark.slow
async def test_a_forgotten_pin_code_is_sent_without_waiting_on_its_own_lock(runtime: Runtime) -> None:
    from core.flows import selfcare
    from core.flows.service import CoreFlows

    await _customer(runtime, "+254711222444")
    started = time.monotonic()
    await selfcare.start_pin_reset(CoreFlows(runtime), phone="+254711222444")
    assert time.monotonic() - started < STALL_SECONDS


class _SilentRedis:
    """A TCP server that accepts and never answers (a Redis stuck or behind a dead link); it drops
    each connection after `hold` seconds so that a client without a timeout is released at last."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.stop = threading.Event()
        self.accepted_at: list[float] = []  # time.monotonic() of each connection, seen from this thread
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        held: list[tuple[socket.socket, float]] = []
        self.server.settimeout(0.05)
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = self.server.accept()
                self.accepted_at.append(time.monotonic())
                held.append((connection, time.monotonic() + self.hold))
            for connection, until in [pair for pair in held if pair[1] <= time.monotonic()]:
                connection.close()
                held.remove((connection, until))
        for connection, _ in held:
            connection.close()
        self.server.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.slow
async def test_a_stuck_redis_behind_failed_jobs_does_not_freeze_the_process(runtime: Runtime) -> None:
    silent = _SilentRedis(hold=3 * STALL_SECONDS)
    # the staff route reads RQ's registry at REDIS_URL; the USSD hops keep their in-process store
    runtime.settings = runtime.settings.model_copy(update={"redis_url": silent.url})
    token = await _admin_token(runtime)
    app = create_app(runtime, run_scheduler_inside=False)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 5555))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=120
        ) as client:

            async def failed_jobs() -> httpx.Response:
                return await client.get(
                    "/api/staff/payouts/failed-jobs", headers={"Authorization": f"Bearer {token}"}
                )

            async def hops_while_it_waits() -> list[str]:
                while not silent.accepted_at:  # until the staff request is waiting on Redis
                    await asyncio.sleep(0.01)
                problems = await _timed_hops(client, "failed-jobs")
                # measured from the thread's clock: a frozen event loop cannot hide its own freeze
                waited = time.monotonic() - silent.accepted_at[0]
                if waited >= STALL_SECONDS:
                    problems.append(f"hops answered {waited:.1f} s after the request reached Redis")
                return problems

            response, problems = await asyncio.gather(failed_jobs(), hops_while_it_waits())
    finally:
        silent.close()
    assert not problems, problems
    assert response.status_code == 503 and response.json()["code"] == "redis_unavailable", response.text
