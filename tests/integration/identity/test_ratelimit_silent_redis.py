"""A hung Redis (it accepts connections and never answers: a stuck server, a black-holed network) and the
limits that raise when Redis is down (PIN, OTP, login, registration, checkout STK pushes): each fails
closed with redis' TimeoutError in about a second instead of hanging, the runtime's shared clients give up
on their own, and a USSD PIN hop answers the customer "try again" in their language before Africa's
Talking's ~15 s hop timeout. Before the fix every one of these waited forever."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import runtime as runtime_module
from core.config import Settings
from core.i18n import translate
from core.ratelimit import (
    LOGIN_PER_ACCOUNT,
    LOGIN_PER_IP,
    OTP_SEND_PER_PHONE,
    OTP_VERIFY_PER_PHONE,
    PIN_PER_ACCOUNT,
    REGISTER_PER_PHONE,
    Limit,
    MemoryRateLimiter,
    RedisRateLimiter,
)
from core.runtime import Runtime
from webapp.app import create_app
from webapp.bootstrap import build_runtime
from webapp.checkout.routes import MPESA_PER_INVOICE
from webapp.queues import RQJobQueue

SILENT_PORT = 18772  # helper F2's port
# Not a speed target: a bound that a check failing closed (about 1 s) is far inside and a hang is not.
BOUND_SECONDS = 10.0
RAISING_LIMITS = (
    PIN_PER_ACCOUNT,
    OTP_SEND_PER_PHONE,
    OTP_VERIFY_PER_PHONE,
    LOGIN_PER_IP,
    LOGIN_PER_ACCOUNT,
    REGISTER_PER_PHONE,
    MPESA_PER_INVOICE,
)
AT_TOKEN = "silent-redis-at-callback-token-0123456789"
SECRET_KEY = "silent-redis-secret-key-0123456789abcdefghij"
PIN = "4826"


class SilentRedis:
    """A TCP listener on 127.0.0.1:SILENT_PORT that accepts every connection, reads nothing and answers
    nothing; closing it closes the connections it holds."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.listener.bind(("127.0.0.1", SILENT_PORT))
        except OSError:
            self.listener.close()
            pytest.skip(f"port {SILENT_PORT} is taken")
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        self.url = f"redis://127.0.0.1:{SILENT_PORT}/0"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.listener.close()


@pytest.fixture
def silent() -> Iterator[SilentRedis]:
    server = SilentRedis()
    yield server
    server.close()


@pytest.fixture
async def plain_client(silent: SilentRedis) -> AsyncIterator[aioredis.Redis]:
    """A client without socket timeouts (the runtime built such a one before the fix)."""
    client = aioredis.Redis.from_url(silent.url)
    yield client
    await client.aclose()


async def _outcome(check: Any) -> Exception | None:
    try:
        await asyncio.wait_for(check, timeout=BOUND_SECONDS)
    except Exception as exc:  # what the check ended with is the result
        return exc
    return None


async def test_every_raising_limit_fails_closed_on_a_silent_redis(
    silent: SilentRedis, plain_client: aioredis.Redis
) -> None:
    limiter = RedisRateLimiter(plain_client)
    checks = [(limit, how) for limit in RAISING_LIMITS for how in ("hit", "peek")]
    outcomes = await asyncio.gather(
        *(_outcome(getattr(limiter, how)(limit, f"phone:{limit.name}")) for limit, how in checks)
    )
    wrong = {
        f"{limit.name}.{how}": type(outcome).__name__
        for (limit, how), outcome in zip(checks, outcomes, strict=True)
        if not isinstance(outcome, RedisTimeoutError)
    }
    assert not wrong, wrong  # before: TimeoutError from the bound for every one (no answer, no error)
    assert silent.held  # the checks did reach the silent server
    assert all(limit.when_redis_down == "raise" for limit in RAISING_LIMITS)


async def test_a_local_limit_still_decides_locally_on_a_silent_redis(plain_client: aioredis.Redis) -> None:
    limiter = RedisRateLimiter(plain_client)
    limit = Limit("silent_local", 1, 60, when_redis_down="local")
    first = await asyncio.wait_for(limiter.hit(limit, "ip:1"), timeout=BOUND_SECONDS)
    second = await asyncio.wait_for(limiter.hit(limit, "ip:1"), timeout=BOUND_SECONDS)
    assert first.allowed and not second.allowed


async def test_the_runtimes_redis_clients_give_up_on_a_silent_redis(
    silent: SilentRedis, sqlite_url: str
) -> None:
    """The shared asyncio client (USSD sessions, Telegram states, rate limits) and RQ's enqueueing client
    answer a hung Redis with redis' TimeoutError; before, both waited forever."""
    settings = Settings(
        kibeti_env="test", database_url=sqlite_url, secret_key=SECRET_KEY, redis_url=silent.url
    )
    rt = build_runtime(settings)
    try:
        assert rt.redis is not None and isinstance(rt.queue, RQJobQueue) and rt.rate_limiter is not None
        outcomes = await asyncio.gather(
            _outcome(rt.redis.get("kibeti:any")),  # a USSD session, a Telegram state
            _outcome(rt.redis.mget("a", "b")),  # a first hop's session and resume point
            _outcome(asyncio.to_thread(rt.queue.connection.get, "kibeti:any")),  # RQ's client (sync)
            _outcome(rt.rate_limiter.peek(PIN_PER_ACCOUNT, "phone:x")),  # the runtime's limiter
        )
        assert [type(outcome) for outcome in outcomes] == [RedisTimeoutError] * 4, outcomes
    finally:
        silent.close()  # a sync call still waiting (before the fix) ends with the connection
        await rt.redis.aclose() if rt.redis is not None else None
        await rt.session_factory.kw["bind"].dispose()


@pytest.fixture
async def ussd(sqlite_url: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A web process whose USSD sessions are in-process and whose limiter is on Redis (set by the test)."""
    settings = Settings(
        kibeti_env="test", database_url=sqlite_url, secret_key=SECRET_KEY, at_callback_token=AT_TOKEN
    )
    rt = build_runtime(settings)
    rt.rate_limiter = MemoryRateLimiter()
    previous = runtime_module._current
    runtime_module.install(rt)
    app = create_app(rt, run_scheduler_inside=False)
    app.state.runtime = rt
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
        yield rt, client
    runtime_module._current = previous
    await rt.session_factory.kw["bind"].dispose()


class Phone:
    def __init__(self, client: httpx.AsyncClient, number: str, session: str) -> None:
        self.client, self.number, self.session = client, number, session
        self.inputs: list[str] = []

    async def send(self, *values: str) -> str:
        """Each value in turn, every hop answered within BOUND_SECONDS; the last screen."""
        screen = ""
        for value in values:
            if value != "":
                self.inputs.append(value)
            form = {
                "sessionId": self.session,
                "serviceCode": "*483*1#",
                "phoneNumber": self.number,
                "networkCode": "63902",
                "text": "*".join(self.inputs),
            }
            response = await asyncio.wait_for(
                self.client.post(f"/ussd/{AT_TOKEN}", data=form), timeout=BOUND_SECONDS
            )
            assert response.status_code == 200, response.text
            screen = response.text
        return screen


@pytest.mark.parametrize("language", ["1", "2"], ids=["en", "sw"])
async def test_a_ussd_pin_hop_says_try_again_when_redis_hangs(
    ussd: tuple[Runtime, httpx.AsyncClient], plain_client: aioredis.Redis, language: str
) -> None:
    rt, client = ussd
    code = "en" if language == "1" else "sw"
    number = "+254711000201" if code == "en" else "+254711000202"
    registration = Phone(client, number, f"ATUid_silent_reg_{code}")
    registered = await registration.send(
        "", language, "Amina Wanjiru", number[-8:], "15031990", "1", PIN, PIN
    )
    assert registered.startswith("END ") and "try again" not in registered.lower(), registered

    rt.rate_limiter = RedisRateLimiter(plain_client)  # Redis hangs from now on
    phone = Phone(client, number, f"ATUid_silent_pin_{code}")
    assert (await phone.send("", "9", "1")).startswith("CON ")  # my account, change PIN: the current PIN?
    answer = await phone.send(PIN)  # the PIN check asks the per-phone wrong-PIN limit first
    assert answer == "END " + translate("error.generic", code), answer


async def test_the_web_sign_in_answers_when_redis_hangs(
    ussd: tuple[Runtime, httpx.AsyncClient], plain_client: aioredis.Redis
) -> None:
    """The customer portal's sign-in code request (the per-phone OTP limit) answers an error page that
    says to try again, instead of waiting on Redis for ever."""
    rt, client = ussd
    number = "+254711000203"
    registration = Phone(client, number, "ATUid_silent_reg_web")
    await registration.send("", "1", "Amina Wanjiru", number[-8:], "15031990", "1", PIN, PIN)
    rt.rate_limiter = RedisRateLimiter(plain_client)  # Redis hangs from now on
    form = await client.get("/app/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    data = {"csrf_token": token.group(1), "phone": "0711 000 203"}
    asked = await asyncio.wait_for(client.post("/app/sign-in", data=data), timeout=BOUND_SECONDS)
    assert asked.status_code >= 400 and translate("web.error.internal", "en") in asked.text, asked.text
