"""The merchant API's rate limits on a real Redis: one round trip a check, exactly N per window per key,
the window resets, keys are independent, and with Redis down (refused, or silent) the per-key and
per-IP limits hold per process instead of answering 500 (core.ratelimit's `when_redis_down="local"`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import telemetry
from core.auth import api_keys
from core.clock import FixedClock
from core.merchants import service as merchants
from core.ratelimit import API_KEY_REQUESTS, Limit, RateLimiterUnavailable, RedisRateLimiter, subject_key
from tests.integration.identity.api_helpers import api_client, make_runtime
from webapp.merchant_auth import FAILED_KEYS_PER_IP, MerchantPrincipal, merchant_api_router, require_scope
from webapp.observability.metrics import count_event

Factory = async_sessionmaker[AsyncSession]
Reader = Annotated[MerchantPrincipal, Depends(require_scope("invoices:read"))]
NOBODY_PORT = 18704  # helper 4's port: nothing listens there unless a test opens it


class CountingConnection(aioredis.Connection):
    """A real connection that counts what it sends: one send is one round trip."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        await super().send_packed_command(command, check_health)


def _free_port_or_skip() -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", NOBODY_PORT)) == 0:
            pytest.skip(f"something listens on {NOBODY_PORT}")


def _dead_redis() -> aioredis.Redis:
    _free_port_or_skip()
    return aioredis.Redis(host="127.0.0.1", port=NOBODY_PORT, socket_connect_timeout=1)


@dataclass
class Api:
    client: httpx.AsyncClient
    clock: FixedClock
    limiter: RedisRateLimiter
    keys: dict[str, str]  # label -> plaintext

    async def ping(self, label: str) -> httpx.Response:
        return await self.client.get("/api/v1/ping", headers={"Authorization": f"Bearer {self.keys[label]}"})


def _app_with(runtime: Any) -> FastAPI:
    router = merchant_api_router(prefix="/ping")

    @router.get("")
    async def ping(principal: Reader) -> dict[str, int]:
        return {"merchant_id": principal.merchant_id}

    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(router)
    return app


@pytest.fixture
def redis_down_events() -> Iterator[list[tuple[str, dict[str, str]]]]:
    seen: list[tuple[str, dict[str, str]]] = []

    def sink(event: str, labels: dict[str, str]) -> None:
        seen.append((event, labels))
        count_event(event, labels)

    telemetry.install(sink)
    yield seen
    telemetry.install(None)


async def _api(factory: Factory, redis: aioredis.Redis) -> tuple[Api, Any]:
    clock = FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    async with factory() as session, session.begin():
        shop = await merchants.create_merchant(session=session, name="Shop", actor="t", clock=clock)
        shop.status = "active"
        keys = {}
        for label in ("first", "second"):
            issued = await api_keys.create_api_key(
                session=session,
                merchant_id=shop.id,
                scopes=["invoices:read"],
                name=label,
                clock=clock,
                actor="t",
            )
            keys[label] = issued.plaintext
    runtime = make_runtime(factory, clock)
    limiter = RedisRateLimiter(redis, now=lambda: clock.now().timestamp())
    runtime.rate_limiter = limiter
    transport = httpx.ASGITransport(app=_app_with(runtime), client=("198.51.100.7", 4000))
    return Api(httpx.AsyncClient(transport=transport, base_url="http://t"), clock, limiter, keys), runtime


@pytest.fixture
async def api_on_redis(pg_session_factory: Factory, redis_url: str) -> AsyncIterator[Api]:
    redis = aioredis.Redis.from_url(redis_url)
    api, _runtime = await _api(pg_session_factory, redis)
    async with api.client:
        yield api
    await redis.aclose()


@pytest.fixture
async def api_redis_down(pg_session_factory: Factory) -> AsyncIterator[Api]:
    redis = _dead_redis()
    api, _runtime = await _api(pg_session_factory, redis)
    async with api.client:
        yield api
    await redis.aclose()


async def _use_up(api: Api, label: str, hits: int) -> None:
    """`hits` of the key's requests this window, counted as the API counts them (saves 599 requests)."""
    key_id = api_keys.key_id_of(api.keys[label])
    assert key_id is not None
    for _ in range(hits):
        assert (await api.limiter.hit(API_KEY_REQUESTS, subject_key("apikey", key_id))).allowed


def _assert_limited(answer: httpx.Response, retry_after: int) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["retry-after"] == str(retry_after)
    body = answer.json()
    assert body["code"] == "rate_limited" and f"retry after {retry_after} s" in body["message"]
    assert set(body) == {"code", "message"}


async def test_a_check_is_one_round_trip_and_counts_exactly(redis_url: str) -> None:
    pool = aioredis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    redis = aioredis.Redis(connection_pool=pool)
    now = [1_000_000.0]
    limiter = RedisRateLimiter(redis, now=lambda: now[0])
    try:
        for strategy in ("sliding", "fixed"):
            limit = Limit(f"t_{strategy}", 3, 60, strategy)
            await limiter.peek(limit, "warm")  # the first call may load the script (NOSCRIPT)
            CountingConnection.sent = 0
            answers = [await limiter.hit(limit, "k:1") for _ in range(4)]
            assert [(a.allowed, a.remaining) for a in answers] == [
                (True, 2),
                (True, 1),
                (True, 0),
                (False, 0),
            ]
            assert 59 <= answers[-1].retry_after <= 60
            assert not (await limiter.peek(limit, "k:1")).allowed
            assert (await limiter.peek(limit, "k:2")).remaining == 3  # peek counts nothing
            assert CountingConnection.sent == 6  # one round trip a check
    finally:
        await redis.aclose()
        await pool.disconnect()


async def test_sliding_window_frees_a_slot_as_each_hit_ages_out(redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    now = [1_000_000.0]
    limiter = RedisRateLimiter(redis, now=lambda: now[0])
    limit = Limit("slide", 2, 60)
    try:
        assert (await limiter.hit(limit, "k")).allowed
        now[0] += 30
        assert (await limiter.hit(limit, "k")).allowed
        now[0] += 10
        assert (await limiter.hit(limit, "k")).retry_after == 20  # the oldest hit leaves at +60
        now[0] += 20
        assert (await limiter.hit(limit, "k")).allowed  # the first aged out: one slot
        assert not (await limiter.hit(limit, "k")).allowed
        # shared: another process's limiter sees the same bucket
        other = RedisRateLimiter(redis, now=lambda: now[0])
        assert not (await other.hit(limit, "k")).allowed
    finally:
        await redis.aclose()


async def test_per_key_limit_is_exactly_n_a_minute_and_resets(api_on_redis: Api) -> None:
    api = api_on_redis
    await _use_up(api, "first", API_KEY_REQUESTS.limit - 1)
    assert (await api.ping("first")).status_code == 200  # the 600th
    _assert_limited(await api.ping("first"), 60)  # the 601st
    _assert_limited(await api.ping("first"), 60)
    assert (await api.ping("second")).status_code == 200  # another key of the same merchant: its own count
    api.clock.advance(seconds=59)
    _assert_limited(await api.ping("first"), 1)
    api.clock.advance(seconds=1)
    assert (await api.ping("first")).status_code == 200  # the window moved past the 600


async def test_guessed_keys_are_limited_per_address_on_redis(api_on_redis: Api) -> None:
    api = api_on_redis
    headers = {"Authorization": "Bearer kbt_live_0123456789ab_guess"}
    answers = [(await api.client.get("/api/v1/ping", headers=headers)).status_code for _ in range(31)]
    assert answers == [401] * FAILED_KEYS_PER_IP.limit + [429]
    assert (await api.ping("first")).status_code == 200  # a real key is counted per key, not per address


async def test_redis_down_the_per_key_limit_holds_per_process(
    api_redis_down: Api, redis_down_events: list[tuple[str, dict[str, str]]]
) -> None:
    api = api_redis_down
    assert (await api.ping("first")).status_code == 200  # before: 500 internal_error
    assert redis_down_events == [("ratelimit.redis_down", {"limit": "api_key"})]
    await _use_up(api, "first", API_KEY_REQUESTS.limit - 2)
    assert (await api.ping("first")).status_code == 200  # the 600th
    _assert_limited(await api.ping("first"), 60)
    assert (await api.ping("second")).status_code == 200
    api.clock.advance(seconds=60)
    assert (await api.ping("first")).status_code == 200
    assert len(redis_down_events) == 1  # Redis is left alone for a while: one wait, one count


async def test_redis_down_guessed_keys_are_still_limited(api_redis_down: Api) -> None:
    headers = {"Authorization": "Bearer kbt_live_0123456789ab_guess"}
    answers = [
        (await api_redis_down.client.get("/api/v1/ping", headers=headers)).status_code for _ in range(31)
    ]
    assert answers == [401] * FAILED_KEYS_PER_IP.limit + [429]


async def test_a_silent_redis_is_waited_for_briefly_then_the_process_decides() -> None:
    """Redis accepts the connection and never answers (a hung server): the check does not hang."""
    _free_port_or_skip()
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(accept, "127.0.0.1", NOBODY_PORT)
    redis = aioredis.Redis(host="127.0.0.1", port=NOBODY_PORT)
    limiter = RedisRateLimiter(redis)
    limit = Limit("silent", 1, 60, when_redis_down="local")
    try:
        first = await asyncio.wait_for(limiter.hit(limit, "k"), timeout=10)
        second = await asyncio.wait_for(limiter.hit(limit, "k"), timeout=10)
        assert first.allowed and not second.allowed and held
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
        await redis.aclose()


async def test_redis_down_a_limit_that_raises_still_raises() -> None:
    """PIN, OTP and login limits fail closed: RateLimiterUnavailable (service_unavailable, 503), from
    the Redis error."""
    redis = _dead_redis()
    try:
        with pytest.raises(RateLimiterUnavailable) as raised:
            await RedisRateLimiter(redis).hit(Limit("pin", 3, 60), "phone:x")
        assert isinstance(raised.value.__cause__, RedisConnectionError)
        assert raised.value.code == "service_unavailable" and raised.value.http_status == 503
    finally:
        await redis.aclose()


async def test_redis_down_the_web_per_ip_limit_holds_per_process(pg_session_factory: Factory) -> None:
    redis = _dead_redis()
    clock = FixedClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    runtime = make_runtime(pg_session_factory, clock)
    runtime.rate_limiter = RedisRateLimiter(redis, now=lambda: clock.now().timestamp())
    try:
        async with api_client(runtime) as (_app, client):
            answers = [(await client.get("/no-such-page")).status_code for _ in range(121)]
            assert answers == [404] * 120 + [429]  # before: 500 for every one
            limited = await client.get("/no-such-page")
            assert limited.headers["retry-after"] == "60" and limited.json()["code"] == "rate_limited"
    finally:
        await redis.aclose()
