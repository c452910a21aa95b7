"""A hung Redis (it accepts connections and never answers: a stuck server, a black-holed network) or a
refused one (nothing listens), and the limits that raise when Redis is down (PIN, OTP, login,
registration, checkout STK pushes): each fails closed in about a second instead of hanging, with
RateLimiterUnavailable (code service_unavailable, HTTP 503) chained from redis' TimeoutError or
ConnectionError; the runtime's shared clients give up on their own. Every channel then says the service
is unavailable, try again, in the user's language: the USSD hop (END, before Africa's Talking's ~15 s hop
timeout), the customer portal's sign-in (503, its own page, Retry-After), the checkout's M-Pesa button
(503, the page's notice), the staff API (503 JSON {code, message}). Before: a hang (silent), then redis'
error: a 500 page, a generic USSD error, a 500 JSON."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import runtime as runtime_module
from core.clock import FixedClock
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
    RateLimiterUnavailable,
    RedisRateLimiter,
)
from core.runtime import Runtime
from tests.integration.checkout.test_checkout_page import _invoice
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.webhooks.conftest import Factory
from webapp.app import create_app
from webapp.bootstrap import build_runtime
from webapp.checkout.routes import MPESA_PER_INVOICE
from webapp.queues import RQJobQueue

SILENT_PORT = 18772  # helper F2's port
REFUSED_PORT = 18773  # helper F3's port: bound, never listening (a connection is refused)
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


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A Redis URL whose port is bound but not listening: every connection is refused."""
    held = socket.socket()
    try:
        held.bind(("127.0.0.1", REFUSED_PORT))
    except OSError:
        held.close()
        pytest.skip(f"port {REFUSED_PORT} is taken")
    yield f"redis://127.0.0.1:{REFUSED_PORT}/0"
    held.close()


@pytest.fixture(params=["silent", "refused"])
async def down_client(request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    """A client of a Redis that hangs (silent) or refuses: the limits that raise must answer either."""
    if request.param == "silent":
        url = request.getfixturevalue("silent").url
    else:
        url = request.getfixturevalue("refused_url")
    client = aioredis.Redis.from_url(url)
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
        if not (
            isinstance(outcome, RateLimiterUnavailable)
            and isinstance(outcome.__cause__, RedisTimeoutError)
            and outcome.code == "service_unavailable"
            and outcome.http_status == 503
        )
    }
    assert not wrong, wrong  # before: TimeoutError from the bound for every one (no answer, no error)
    assert silent.held  # the checks did reach the silent server
    assert all(limit.when_redis_down == "raise" for limit in RAISING_LIMITS)


async def test_every_raising_limit_is_unavailable_on_a_refused_redis(refused_url: str) -> None:
    client = aioredis.Redis.from_url(refused_url)
    try:
        limiter = RedisRateLimiter(client)
        for limit in RAISING_LIMITS:
            for how in ("hit", "peek"):
                outcome = await _outcome(getattr(limiter, how)(limit, f"phone:{limit.name}"))
                assert isinstance(outcome, RateLimiterUnavailable), (limit.name, how, outcome)
                assert isinstance(outcome.__cause__, RedisConnectionError), outcome.__cause__
                assert outcome.retry_after == 60
    finally:
        await client.aclose()


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
        assert [type(outcome) for outcome in outcomes] == [RedisTimeoutError] * 3 + [RateLimiterUnavailable]
        limiter_outcome = outcomes[3]
        assert limiter_outcome is not None and isinstance(limiter_outcome.__cause__, RedisTimeoutError)
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
async def test_a_ussd_pin_hop_says_try_again_when_redis_is_down(
    ussd: tuple[Runtime, httpx.AsyncClient], down_client: aioredis.Redis, language: str
) -> None:
    rt, client = ussd
    code = "en" if language == "1" else "sw"
    number = "+254711000201" if code == "en" else "+254711000202"
    registration = Phone(client, number, f"ATUid_silent_reg_{code}")
    registered = await registration.send(
        "", language, "Amina Wanjiru", number[-8:], "15031990", "1", PIN, PIN
    )
    assert registered.startswith("END ") and "try again" not in registered.lower(), registered

    rt.rate_limiter = RedisRateLimiter(down_client)  # Redis hangs or refuses from now on
    phone = Phone(client, number, f"ATUid_silent_pin_{code}")
    assert (await phone.send("", "9", "1")).startswith("CON ")  # my account, change PIN: the current PIN?
    answer = await phone.send(PIN)  # the PIN check asks the per-phone wrong-PIN limit first
    # before: END error.generic ("something went wrong")
    assert answer == "END " + translate("error.service_unavailable", code), answer


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_the_web_sign_in_says_try_again_when_redis_is_down(
    ussd: tuple[Runtime, httpx.AsyncClient], down_client: aioredis.Redis, language: str
) -> None:
    """The customer portal's sign-in code request (the per-phone OTP limit) and code check (the per-phone
    wrong-code limit) answer 503 on the sign-in page itself, in the customer's language, with
    Retry-After; before: the 500 page ("Something went wrong on our side")."""
    rt, client = ussd
    number = "+254711000203" if language == "en" else "+254711000204"
    registration = Phone(client, number, f"ATUid_silent_reg_web_{language}")
    await registration.send("", "1", "Amina Wanjiru", number[-8:], "15031990", "1", PIN, PIN)
    headers = {"Accept-Language": language}
    form = await client.get("/app/sign-in", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    sent = await client.post(
        "/app/sign-in", data={"csrf_token": token.group(1), "phone": "0" + number[-9:]}, headers=headers
    )
    assert sent.status_code == 200 and 'name="otp"' in sent.text, sent.text  # a live code to check
    rt.rate_limiter = RedisRateLimiter(down_client)  # Redis hangs or refuses from now on
    busy = translate("error.service_unavailable", language)
    for path, data in (
        ("/app/sign-in", {"phone": "0" + number[-9:]}),
        ("/app/sign-in/code", {"phone": "0" + number[-9:], "otp": "123456"}),
    ):
        data = {"csrf_token": token.group(1), **data}
        asked = await asyncio.wait_for(client.post(path, data=data, headers=headers), timeout=BOUND_SECONDS)
        assert asked.status_code == 503, (path, asked.status_code, asked.text)
        assert busy in asked.text and translate("web.error.internal", language) not in asked.text, asked.text
        assert 'name="csrf_token"' in asked.text  # the sign-in form again, not an error page
        assert asked.headers["retry-after"] == "60"


async def test_the_checkout_mpesa_button_says_try_again_when_redis_is_down(
    pg_session_factory: Factory, down_client: aioredis.Redis
) -> None:
    """The hosted checkout's STK push (the per-invoice push limit): 503 on the invoice page with the
    notice in the payer's language (en, sw) and Retry-After; before: redis' error, a 500."""
    runtime = make_runtime(pg_session_factory, FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC)))
    runtime.rate_limiter = RedisRateLimiter(down_client)
    invoice_id = await _invoice(pg_session_factory)
    async with api_client(runtime) as (_app, client):
        for language in ("en", "sw"):
            answer = await asyncio.wait_for(
                client.post(f"/i/{invoice_id}/mpesa?lang={language}", data={"phone": "0712345678"}),
                timeout=BOUND_SECONDS,
            )
            assert answer.status_code == 503, answer.text
            assert translate("error.service_unavailable", language) in answer.text, answer.text
            assert 'name="phone"' in answer.text and answer.headers["retry-after"] == "60"


async def test_the_staff_api_login_answers_503_json_when_redis_is_down(
    pg_session_factory: Factory, down_client: aioredis.Redis
) -> None:
    """An API's limit that cannot be checked: 503 `{code: service_unavailable, message}`, Retry-After
    (before: 500 internal_error)."""
    runtime = make_runtime(pg_session_factory, FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC)))
    runtime.rate_limiter = RedisRateLimiter(down_client)
    async with api_client(runtime) as (_app, client):
        answer = await asyncio.wait_for(
            client.post(
                "/api/staff/login", json={"email": "a@example.com", "password": "x" * 12, "totp": "123456"}
            ),
            timeout=BOUND_SECONDS,
        )
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "service_unavailable" and answer.json()["message"]
    assert answer.headers["retry-after"] == "60"


async def test_a_portal_page_that_does_not_catch_it_answers_the_503_page_when_redis_is_down(
    pg_session_factory: Factory, down_client: aioredis.Redis
) -> None:
    """The merchant portal's sign-in leaves its per-IP login limit's error to the portals' handler
    (webapp.web.errors): the 503 page in the user's language (en, sw) with Retry-After; before: the 500
    page ("Something went wrong on our side")."""
    runtime = make_runtime(pg_session_factory, FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC)))
    runtime.rate_limiter = RedisRateLimiter(down_client)
    async with api_client(runtime) as (_app, client):
        for language in ("en", "sw"):
            headers = {"Accept-Language": language}
            client.cookies.clear()  # a new visitor: the page's language from Accept-Language
            form = await client.get("/merchant/sign-in", headers=headers)
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None, form.text
            data = {"csrf_token": token.group(1), "email": "duka@example.com", "password": "x" * 12}
            answer = await asyncio.wait_for(
                client.post("/merchant/sign-in", data=data, headers=headers), timeout=BOUND_SECONDS
            )
            assert answer.status_code == 503, answer.text
            assert translate("error.service_unavailable", language) in answer.text, answer.text
            assert translate("web.error.internal", language) not in answer.text
            assert answer.headers["retry-after"] == "60"
