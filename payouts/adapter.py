"""Build the Daraja client from settings, per job (RQ runs each job in a fresh event loop).

`build(runtime)` is what webapp.bootstrap wires as the MobileMoney port; jobs use `daraja(runtime)`.
With no MPESA_BASE_URL the client talks to the simulator the web app mounts at /daraja-sim (or run
one with `kibeti mpesa simulator`), and with no certificate it takes the simulator's.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import redis.asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from core.db.session import is_sqlite, make_engine, make_session_factory
from core.money import Money
from core.runtime import Runtime
from payouts.models import MpesaApiCall
from payouts.mpesa.client import ApiCall, DarajaClient, DarajaConfig, fetch_token
from payouts.mpesa.token import MemoryTokenCache, RedisTokenCache
from payouts.rate_limit import MemoryTokenBucket, RateLimit, RedisTokenBucket

log = logging.getLogger(__name__)
EMBEDDED_SIMULATOR_PATH = "/daraja-sim"  # mounted by the web app when MPESA_BASE_URL is empty
_certificates: dict[str, bytes] = {}
_memory_tokens: dict[str, MemoryTokenCache] = {}
_memory_buckets: dict[str, MemoryTokenBucket] = {}


def base_url(settings: Settings) -> str:
    """MPESA_BASE_URL, or the simulator the web app mounts in-process (the embedded default)."""
    if settings.mpesa_base_url:
        return settings.mpesa_base_url.rstrip("/")
    return settings.mpesa_callback_base_url.rstrip("/") + EMBEDDED_SIMULATOR_PATH


def rate_limit(settings: Settings) -> RateLimit | None:
    """Per-shortcode B2C rate (MPESA_B2C_RATE_PER_HOUR; 0 turns it off; MPESA_B2C_RATE_BURST, default 1)."""
    if settings.mpesa_b2c_rate_per_hour <= 0:
        return None
    return RateLimit(
        limit=settings.mpesa_b2c_rate_per_hour,
        period_s=3600,
        burst=int(os.environ.get("MPESA_B2C_RATE_BURST", "1")),
    )


async def certificate(settings: Settings, http: httpx.AsyncClient) -> bytes:
    if settings.mpesa_certificate_path is not None:
        return settings.mpesa_certificate_path.read_bytes()
    url = base_url(settings)
    if url not in _certificates:
        response = await http.get(f"{url}/simulator/certificate", timeout=10)
        response.raise_for_status()
        _certificates[url] = response.content
    return _certificates[url]


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~50 ms of CPU: do it once per process, not per job."""
    return ssl.create_default_context()


async def prefetch_certificate(settings: Settings) -> None:
    """Load the certificate once in a worker's main process, so forked work-horses inherit it."""
    _ssl_context()
    async with httpx.AsyncClient(verify=_ssl_context()) as http:
        try:
            await certificate(settings, http)
        except (httpx.HTTPError, OSError) as exc:  # not fatal: each job fetches it again
            log.warning("could not prefetch the M-Pesa certificate: %s", exc)


def config(settings: Settings, cert: bytes) -> DarajaConfig:
    return DarajaConfig(
        base_url=base_url(settings),
        consumer_key=settings.mpesa_consumer_key.get_secret_value(),
        consumer_secret=settings.mpesa_consumer_secret.get_secret_value(),
        shortcode=settings.mpesa_shortcode,
        passkey=settings.mpesa_passkey.get_secret_value(),
        initiator_name=settings.mpesa_initiator_name,
        initiator_password=settings.mpesa_initiator_password.get_secret_value(),
        certificate_pem=cert,
        callback_base_url=settings.mpesa_callback_base_url,
        callback_token=settings.mpesa_callback_token.get_secret_value(),
        timeout_s=float(os.environ.get("MPESA_TIMEOUT_S", "30")),
        callback_prefix=os.environ.get("MPESA_CALLBACK_PATH_PREFIX", "mpesa").strip("/") or "mpesa",
    )


_job_factory: ContextVar[async_sessionmaker[AsyncSession] | None] = ContextVar(
    "payouts_job_sessions", default=None
)


def sessions(runtime: Runtime) -> async_sessionmaker[AsyncSession]:
    """The session factory for this job: its own pooled engine inside `job_scope`, else the runtime's."""
    return _job_factory.get() or runtime.session_factory


@asynccontextmanager
async def job_scope(runtime: Runtime) -> AsyncIterator[None]:
    """A small pooled engine for this job's event loop (a worker's engine connects per session)."""
    url = runtime.settings.database_url
    if _job_factory.get() is not None or is_sqlite(url):
        yield
        return
    engine = make_engine(url, pool_size=2)
    token = _job_factory.set(make_session_factory(engine))
    try:
        yield
    finally:
        _job_factory.reset(token)
        await engine.dispose()


def audit_sink(runtime: Runtime) -> Any:
    async def record(call: ApiCall) -> None:
        async with sessions(runtime)() as session:
            session.add(
                MpesaApiCall(
                    api=call.api,
                    path=call.path[:120],
                    reference=call.reference[:64],
                    request=call.request,
                    http_status=call.http_status,
                    response=call.response,
                    error=call.error,
                    duration_ms=call.duration_ms,
                )
            )
            await session.commit()

    return record


@dataclass
class Daraja:
    """What a job needs for one run: the client and the shortcode's rate bucket."""

    client: DarajaClient
    bucket: RedisTokenBucket | MemoryTokenBucket | None


@asynccontextmanager
async def daraja(runtime: Runtime) -> AsyncIterator[Daraja]:
    settings = runtime.settings
    async with httpx.AsyncClient(verify=_ssl_context()) as http:
        cfg = config(settings, await certificate(settings, http))
        audit = audit_sink(runtime)
        rate = rate_limit(settings)
        if settings.redis_url:
            connection = redis.asyncio.Redis.from_url(settings.redis_url)
            try:
                tokens: Any = RedisTokenCache(
                    connection,
                    lambda: fetch_token(http, cfg, audit),
                    namespace=f"{cfg.base_url}|{cfg.consumer_key}",
                )
                bucket: Any = (
                    RedisTokenBucket(connection, shortcode=cfg.shortcode, rate=rate) if rate else None
                )
                yield Daraja(DarajaClient(cfg, http=http, tokens=tokens, audit=audit), bucket)
            finally:
                await connection.aclose()
            return
        key = f"{cfg.base_url}|{cfg.consumer_key}"
        if key not in _memory_tokens:
            _memory_tokens[key] = MemoryTokenCache(lambda: fetch_token(http, cfg, audit))
        memory = _memory_tokens[key]
        memory.rebind(lambda: fetch_token(http, cfg, audit))  # this run's HTTP client
        bucket = None
        if rate:
            bucket = _memory_buckets.setdefault(cfg.shortcode, MemoryTokenBucket(rate=rate))
        yield Daraja(DarajaClient(cfg, http=http, tokens=memory, audit=audit), bucket)


class DarajaMobileMoney:
    """The MobileMoney port over Daraja (used from workers only, never inside a USSD hop)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def request_payment(self, *, request_id: str, phone: str, amount: Money, reference: str) -> str:
        async with daraja(self._runtime) as d:
            accepted = await d.client.stk_push(
                phone=phone,
                amount=int(amount.whole_units().amount),
                account_reference=reference or request_id,
            )
        return accepted.checkout_request_id

    async def send_payout(self, *, payout_id: str, phone: str, amount: Money, remarks: str) -> str:
        async with daraja(self._runtime) as d:
            accepted = await d.client.b2c_payment(
                originator_conversation_id=payout_id,
                phone=phone,
                amount=int(amount.whole_units().amount),
                remarks=remarks,
            )
        return accepted.conversation_id


def build(runtime: Runtime) -> DarajaMobileMoney:
    return DarajaMobileMoney(runtime)
