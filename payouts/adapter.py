"""Build the Daraja client from settings: per job, or once per worker process.

Outside a `ProcessLoop` (RQ's own Job runs each coroutine in a fresh event loop) a job builds and
closes its own engine, HTTP client and Redis connection. `payouts.worker` runs every job on a
`ProcessLoop` instead, which keeps them: the runtime's pooled engine, one keep-alive HTTP client, one
Redis connection and one Daraja client (credential encrypted once) for the life of the loop (the
whole process with SimpleWorker, one job in a forked work-horse).

Jobs reach Daraja through `daraja(runtime)` (there is no port: only payouts' own jobs call it).
With no MPESA_BASE_URL the client talks to the simulator the web app mounts at /daraja-sim (or run
one with `kibeti mpesa simulator`), and with no certificate it takes the simulator's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import httpx
import redis.asyncio
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import configure_mappers

from core import runtime as runtime_module
from core.clock import clock_of
from core.config import Settings
from core.db.raw import run_on_session_connection
from core.db.session import is_sqlite, make_engine, make_session_factory
from core.outbox.service import mark_done
from core.payments import service as payments
from core.payments.errors import UnknownPayout
from core.runtime import Runtime
from payouts.models import MpesaApiCall
from payouts.mpesa.client import ApiCall, DarajaClient, DarajaConfig, fetch_token
from payouts.mpesa.token import MemoryTokenCache, RedisTokenCache
from payouts.rate_limit import MemoryTokenBucket, RateLimit, RedisTokenBucket

log = logging.getLogger(__name__)
EMBEDDED_SIMULATOR_PATH = "/daraja-sim"  # mounted by the web app when MPESA_BASE_URL is empty
DEFAULT_CALLBACK_PREFIX = "cb"
_certificates: dict[str, bytes] = {}
_certificate_files: dict[tuple[str, int], bytes] = {}
T = TypeVar("T")
# httpx keeps idle connections this long: under uvicorn's 5 s keep-alive, so the server never closes
# a connection we are about to reuse (a request lost that way would leave the payout `unknown`).
KEEPALIVE_EXPIRY_S = 2.0
# Where Daraja requests go instead of the network, when set: an in-process simulator
# (httpx.ASGITransport) for tests that run the callback app in-process too. Never set in production.
TRANSPORT: httpx.AsyncBaseTransport | None = None
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
        burst=settings.mpesa_b2c_rate_burst,
    )


async def certificate(settings: Settings, http: httpx.AsyncClient) -> bytes:
    if settings.mpesa_certificate_path is not None:
        path = settings.mpesa_certificate_path
        key = (str(path), path.stat().st_mtime_ns)  # re-read only when the file changes
        if key not in _certificate_files:
            _certificate_files[key] = path.read_bytes()
        return _certificate_files[key]
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


async def warm_up(runtime: Runtime) -> None:
    """In a worker's main process, before any job: what forked work-horses would otherwise redo per job.

    The certificate and the SSL context; the ORM mappers configured (~80 ms a job otherwise); the
    engine's dialect initialised (server version etc., once per engine) and its compiled-statement
    cache primed with the send path's queries, run against ids that do not exist and rolled back.
    Leaves no connection open: a forked work-horse opens its own on its own loop.
    """
    await prefetch_certificate(runtime.settings)
    configure_mappers()
    if is_sqlite(runtime.settings.database_url):
        return
    try:
        async with runtime.session_factory() as session:
            await mark_done(session=session, outbox_id=-1)  # matches no row
            with contextlib.suppress(UnknownPayout):
                await payments.get_payout(session=session, payout_id="", lock=True)
            await payments.shortcode_sent_today(session=session, now=clock_of(session).now())
            await session.rollback()
    except (OSError, SQLAlchemyError) as exc:  # not fatal: the jobs connect themselves
        log.warning("worker warm-up could not reach the database: %s", exc)
    finally:
        await _engine_of(runtime).dispose()


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
        timeout_s=settings.mpesa_timeout_s,
        callback_prefix=callback_prefix(settings),
    )


def callback_prefix(settings: Settings) -> str:
    """The callback URLs' first path segment (MPESA_CALLBACK_PATH_PREFIX, default "cb")."""
    return settings.mpesa_callback_path_prefix.strip().strip("/") or DEFAULT_CALLBACK_PREFIX


_job_factory: ContextVar[async_sessionmaker[AsyncSession] | None] = ContextVar(
    "payouts_job_sessions", default=None
)


def sessions(runtime: Runtime) -> async_sessionmaker[AsyncSession]:
    """The session factory for this job: the process loop's engine, or the job's own inside `job_scope`,
    else the runtime's."""
    shared = _shared_for_running_loop()
    if shared is not None:
        return shared.factory(runtime)
    return _job_factory.get() or runtime.session_factory


@asynccontextmanager
async def job_scope(runtime: Runtime) -> AsyncIterator[None]:
    """A small pooled engine for this job's event loop (a worker's engine connects per session);
    on a `ProcessLoop` the process-wide one, kept between jobs."""
    url = runtime.settings.database_url
    if _job_factory.get() is not None or is_sqlite(url) or _shared_for_running_loop() is not None:
        yield
        return
    engine = make_engine(url, pool_size=2)
    token = _job_factory.set(make_session_factory(engine, clock=runtime.clock))
    try:
        yield
    finally:
        _job_factory.reset(token)
        await engine.dispose()


@dataclass
class _Deferred:
    """The API calls made inside a `deferred_audit`: those not written yet, and all of them."""

    pending: list[ApiCall] = field(default_factory=list)
    made: list[ApiCall] = field(default_factory=list)


_deferred_calls: ContextVar[_Deferred | None] = ContextVar("payouts_deferred_calls", default=None)
# a retried write of a call already written adds nothing (its call_id is unique)
_INSERT_CALL_SQL = """
INSERT INTO mpesa_api_calls
  (call_id, api, path, reference, request, http_status, response, error, duration_ms, created_at)
VALUES ($1, $2, $3, $4, $5::text::json, $6, $7::text::json, $8, $9, $10)
ON CONFLICT (call_id) DO NOTHING
"""
# What a lost connection to PostgreSQL looks like on asyncpg (the server may or may not have committed
# the statement it was running): reset or refused sockets, "connection was closed in the middle of
# operation", the server terminating the backend (pg_terminate_backend, a shutdown).
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)


@asynccontextmanager
async def deferred_audit(runtime: Runtime) -> AsyncIterator[list[ApiCall]]:
    """Audit rows of the API calls made inside, kept for the transaction that records their outcome
    (`write_api_calls`) instead of a transaction each; any left unwritten get their own on exit.

    Leaving by an exception, every call made inside is written again in its own transaction: a
    transaction that wrote some of them may have been lost (a dropped connection, a failed commit),
    and the rows of those that did commit are not written twice (their call_id is taken)."""
    deferred = _Deferred()
    token = _deferred_calls.set(deferred)
    failed = False
    try:
        yield deferred.pending
    except Exception:
        failed = True
        raise
    finally:
        _deferred_calls.reset(token)
        unwritten = deferred.made if failed else deferred.pending
        if unwritten:
            try:
                async with sessions(runtime)() as session:
                    await write_api_calls(session, list(unwritten))
                    await session.commit()
            except Exception as exc:
                if not failed:
                    raise
                # the job's own error is on its way out; this one must not replace it
                log.warning("audit rows of %d Daraja calls not written: %s", len(unwritten), exc)


async def write_api_calls(session: AsyncSession, calls: list[ApiCall]) -> None:
    """The calls' audit rows in the caller's transaction (the list is emptied); a call whose row
    exists already is skipped (a retry after a lost commit, or after a lost answer to one)."""
    pending, calls[:] = list(calls), []
    if not pending:
        return
    now = clock_of(session).now()
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        for call in pending:
            await run_on_session_connection(
                session,
                _INSERT_CALL_SQL,
                [call.call_id, call.api, call.path[:120], call.reference[:64], json.dumps(call.request),
                 call.http_status, json.dumps(call.response), call.error, call.duration_ms, now],
            )  # fmt: skip
        return
    rows = [
        {
            "call_id": call.call_id,
            "api": call.api,
            "path": call.path[:120],
            "reference": call.reference[:64],
            "request": call.request,
            "http_status": call.http_status,
            "response": call.response,
            "error": call.error,
            "duration_ms": call.duration_ms,
            "created_at": now,
        }
        for call in pending
    ]
    await session.execute(sqlite_insert(MpesaApiCall).values(rows).on_conflict_do_nothing())


def audit_sink(runtime: Runtime) -> Any:
    async def record(call: ApiCall) -> None:
        deferred = _deferred_calls.get()
        if deferred is not None:
            deferred.pending.append(call)
            deferred.made.append(call)
            return
        async with sessions(runtime)() as session:
            await write_api_calls(session, [call])
            await session.commit()

    return record


@dataclass
class Daraja:
    """What a job needs for one run: the client and the shortcode's rate bucket."""

    client: DarajaClient
    bucket: RedisTokenBucket | MemoryTokenBucket | None


@asynccontextmanager
async def daraja(runtime: Runtime) -> AsyncIterator[Daraja]:
    shared = _shared_for_running_loop()
    if shared is not None and runtime.settings.redis_url:
        yield await shared.daraja(runtime)
        return
    settings = runtime.settings
    async with httpx.AsyncClient(verify=_ssl_context(), transport=TRANSPORT) as http:
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
                yield Daraja(
                    DarajaClient(cfg, http=http, tokens=tokens, audit=audit, clock=runtime.clock), bucket
                )
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
        yield Daraja(DarajaClient(cfg, http=http, tokens=memory, audit=audit, clock=runtime.clock), bucket)


async def direct_connection(runtime: Runtime) -> asyncpg.Connection | None:
    """On a `ProcessLoop` with PostgreSQL: the loop's own asyncpg connection, in autocommit, for a
    job's one-statement writes (a claim, a recorded outcome: each statement its own transaction, one
    round trip, none of SQLAlchemy's unit of work). None elsewhere: use `sessions(runtime)`."""
    shared = _shared_for_running_loop()
    if shared is None or is_sqlite(runtime.settings.database_url):
        return None
    return await shared.direct(runtime)


def _connect_kwargs(engine: AsyncEngine) -> dict[str, Any]:
    """asyncpg.connect's arguments for the engine's database (no TLS to a local one unless asked,
    as core.db.session does for the engine)."""
    url = engine.url
    kwargs: dict[str, Any] = {"host": url.host, "port": url.port, "user": url.username}
    kwargs.update(password=url.password, database=url.database)
    ssl_mode = url.query.get("ssl") or url.query.get("sslmode")
    if ssl_mode:
        kwargs["ssl"] = ssl_mode if isinstance(ssl_mode, str) else ssl_mode[0]
    elif (url.host or "localhost") in ("localhost", "127.0.0.1", "::1"):
        kwargs["ssl"] = False
    return kwargs


class _Shared:
    """What one `ProcessLoop` keeps between jobs (everything here is bound to that loop)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._http: httpx.AsyncClient | None = None
        self._redis: redis.asyncio.Redis | None = None
        self._daraja: Daraja | None = None
        self._direct: asyncpg.Connection | None = None

    async def direct(self, runtime: Runtime) -> asyncpg.Connection:
        """The loop's autocommit connection, (re)opened when missing or closed."""
        self._check(runtime)
        if self._direct is None or self._direct.is_closed():
            self._direct = await asyncpg.connect(**_connect_kwargs(_engine_of(runtime)))
        return self._direct

    def factory(self, runtime: Runtime) -> async_sessionmaker[AsyncSession]:
        """The runtime's own: a worker running a ProcessLoop installs a pooled engine (see payouts.worker)."""
        self._check(runtime)
        return runtime.session_factory

    async def daraja(self, runtime: Runtime) -> Daraja:
        self._check(runtime)
        if self._daraja is None:
            settings = runtime.settings
            limits = httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S)
            http = self._http = httpx.AsyncClient(verify=_ssl_context(), limits=limits, transport=TRANSPORT)
            cfg = config(settings, await certificate(settings, http))
            audit = audit_sink(runtime)
            rate = rate_limit(settings)
            connection = self._redis = redis.asyncio.Redis.from_url(settings.redis_url or "")
            tokens = RedisTokenCache(
                connection,
                lambda: fetch_token(http, cfg, audit),
                namespace=f"{cfg.base_url}|{cfg.consumer_key}",
            )
            bucket = RedisTokenBucket(connection, shortcode=cfg.shortcode, rate=rate) if rate else None
            self._daraja = Daraja(
                DarajaClient(cfg, http=http, tokens=tokens, audit=audit, clock=runtime.clock), bucket
            )
        return self._daraja

    def _check(self, runtime: Runtime) -> None:
        if self._runtime is not runtime:
            raise RuntimeError("a ProcessLoop serves the Runtime installed when it started")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        if self._direct is not None:
            await self._direct.close()
        await _engine_of(self._runtime).dispose()

    def forget(self) -> None:
        """Drop the runtime engine's pooled connections without closing them (their loop is gone)."""
        _engine_of(self._runtime).sync_engine.dispose(close=False)
        self._direct = None  # its socket closes with the abandoned loop's transports


def _engine_of(runtime: Runtime) -> AsyncEngine:
    engine = runtime.session_factory.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


_loops: dict[int, _Shared] = {}  # id(loop) -> what that ProcessLoop keeps


def _shared_for_running_loop() -> _Shared | None:
    if not _loops:
        return None
    try:
        return _loops.get(id(asyncio.get_running_loop()))
    except RuntimeError:
        return None


class ProcessLoop:
    """One event loop for every coroutine job of a worker process (instead of RQ's loop per job).

    Jobs still run one at a time. If a job is interrupted from outside its task (RQ's job-timeout
    signal, Ctrl-C), its task is left unfinished: the loop and everything bound to it are abandoned,
    never run again (exactly what happens to RQ's throwaway loop), and the next job gets a new loop.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._pid != os.getpid():  # a forked child never uses its parent's loop
            _loops.clear()
            self._loop = None
        if self._loop is None:
            self._loop, self._pid = asyncio.new_event_loop(), os.getpid()
            _loops[id(self._loop)] = _Shared(runtime_module.get())
        loop = self._loop
        task = loop.create_task(coroutine)
        try:
            return loop.run_until_complete(task)
        finally:
            if not task.done():
                self._abandon()

    def _abandon(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        shared = _loops.pop(id(loop), None)
        if shared is not None:
            shared.forget()
        loop.close()  # its unfinished task is never run again

    def close(self) -> None:
        """Close the pools and the loop (a clean worker shutdown)."""
        loop = self._loop
        if loop is None or self._pid != os.getpid():
            return
        shared = _loops.pop(id(loop), None)
        if shared is not None:
            loop.run_until_complete(shared.aclose())
        self._loop = None
        loop.close()
