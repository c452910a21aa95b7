"""The one composition root: builds the Runtime (adapters behind core's ports) for the web app,
the workers, the scheduler and the CLI alike. Nothing else constructs adapters.

Every builder below must import: a missing module or a misconfigured piece fails at start-up, with the
builder (or the setting) named, rather than leaving a port empty to fail later.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any, Literal

import redis
import redis.asyncio

from core import runtime as runtime_module
from core import telemetry
from core.clock import SystemClock
from core.config import Settings, get_settings
from core.db.session import make_engine, make_session_factory
from core.logging import configure_logging
from core.outbox import handlers
from core.runtime import Runtime
from core.telegram.store import build_chat_states
from webapp.http_get import httpx_get
from webapp.observability.errors import init_error_reporting
from webapp.observability.metrics import count_event
from webapp.queues import InProcessJobQueue, RQJobQueue

log = logging.getLogger(__name__)

# Each package offers `build(runtime) -> adapter` for its ports; wired here, and only here.
ADAPTER_BUILDERS: dict[str, str] = {
    "notifier": "channels.sms.adapter.build",
    "chains": "wallets.adapter.build",
    "compliance": "compliance.adapter.build",
    "collection_rails": "payouts.rails.build",
}
RATE_SOURCES_BUILDER = "core.fx.sources.build_sources"
# The jobs core names (core.outbox.handlers) -> what does them; the aliases are the dotted paths
# core staged them under before it named them (rows still in the outbox run through these).
JOB_HANDLERS: dict[str, tuple[str, tuple[str, ...]]] = {
    handlers.OPEN_REVERSAL_CASE: (
        "webapp.api.pesapal.open_reversal_case",
        ("webapp.api.pesapal.open_reversal_case",),
    ),
    handlers.OPEN_REFUND_CASE: (
        "webapp.api.pesapal.open_refund_case",
        ("webapp.api.pesapal.open_refund_case",),
    ),
    handlers.PAYOUT_LONG_UNKNOWN: ("webapp.api.payout_alerts.payout_long_unknown", ()),
}
NOTIFIER_BY_CHANNEL = "channels.telegram.notifier.build"


# The runtime's Redis clients (the async one: rate limits, USSD sessions, Telegram states and pacing, the
# FX cache, health; the sync one: RQ enqueueing and job status) wait this long to connect and for each
# answer (from_url's clients do not retry a command): a hung Redis (accepts, never answers) fails a
# command in REDIS_SOCKET_TIMEOUT_SECONDS with redis' TimeoutError instead of never (redis-py's default:
# no timeout), inside a USSD hop's ~15 s. None of their users blocks on Redis (no BLPOP/BRPOP,
# pubsub or XREAD BLOCK: RQ workers dequeue on connections of their own, webapp.cli.worker and
# payouts.worker); a blocking command on these clients would need a client of its own.
REDIS_SOCKET_TIMEOUT_SECONDS = 2.0


def async_redis_client(url: str) -> redis.asyncio.Redis:
    """The runtime's shared asyncio Redis client (bounded waits, see REDIS_SOCKET_TIMEOUT_SECONDS)."""
    client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
    )
    return client


def queue_redis_client(url: str) -> redis.Redis:
    """The sync client RQJobQueue enqueues with (bounded waits, as `async_redis_client`)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
    )


# What a process needs beyond the ports: web processes also serve USSD (the engine is built here).
ProcessKind = Literal["web", "worker", "scheduler", "cli"]


class BootstrapError(RuntimeError):
    """A builder bootstrap needs is missing: the process refuses to start."""


def _builder(dotted: str) -> Callable[..., Any]:
    module_name, _, attribute = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise BootstrapError(f"{dotted}: module {exc.name} is missing; this process cannot start") from exc
    builder = getattr(module, attribute, None)
    if not callable(builder):
        raise BootstrapError(f"{dotted} does not exist; this process cannot start")
    return builder  # type: ignore[no-any-return]


def wire_job_handlers() -> None:
    """Register what does each job core names (every process: any of them may run an outbox job)."""
    for name, (dotted, aliases) in JOB_HANDLERS.items():
        handlers.register(name, _builder(dotted), aliases=aliases)


def wire_web(runtime: Runtime) -> None:
    """What only web processes serve: the USSD engine (its session store: Redis, or memory) and the
    Telegram bot's Application (fed by the webhook; a misconfigured bot refuses to start here)."""
    from channels.telegram.bot import NoBotConfigured, build
    from channels.ussd.router import build_engine

    runtime.ussd_engine = build_engine(runtime)
    try:
        runtime.telegram_application = build(runtime)
    except NoBotConfigured as exc:
        raise BootstrapError(f"{exc}; this process cannot start") from exc


def wire_simulators(runtime: Runtime) -> None:
    """The fake outside world of the embedded default and tests, for each piece with no real endpoint
    configured. Production processes never import the simulators package."""
    settings = runtime.settings
    if settings.is_production:
        return
    from simulators.chain_simulation import ChainSimulation

    runtime.chain_simulation = ChainSimulation(settings.data_dir)
    if not settings.at_base_url:
        from simulators import africastalking

        runtime.sms_simulator_url = lambda: africastalking.shared_server().url
        # the fake posts delivery reports to this app, at the base URL Daraja's callbacks use
        token = settings.at_callback_token.get_secret_value()
        africastalking.DELIVERY_REPORT_URL = (
            f"{settings.mpesa_callback_base_url.rstrip('/')}/sms/{token}/delivery"
        )
    if not settings.telegram_bot_token.get_secret_value() and not settings.telegram_api_base_url:
        from simulators.telegram_bot_api import BotApiDouble

        runtime.telegram_double = BotApiDouble()
    if not settings.pesapal_base_url:
        from simulators.pesapal import PesapalSimulator

        runtime.pesapal_simulator = PesapalSimulator()


def build_runtime(
    settings: Settings | None = None, *, for_worker: bool = False, kind: ProcessKind = "web"
) -> Runtime:
    """Build everything from settings. Workers get a NullPool engine (RQ runs each job in a new loop)."""
    settings = settings or get_settings()
    settings.check_production()
    init_error_reporting(settings)
    telemetry.install(count_event)
    engine = make_engine(settings.database_url, null_pool=for_worker)
    queue: RQJobQueue | InProcessJobQueue
    async_redis = None
    if settings.redis_url:
        queue = RQJobQueue(queue_redis_client(settings.redis_url))
        async_redis = async_redis_client(settings.redis_url)
    else:
        queue = InProcessJobQueue()
    clock = SystemClock()
    runtime = Runtime(
        settings=settings,
        session_factory=make_session_factory(engine, clock=clock),
        clock=clock,
        queue=queue,
        redis=async_redis,
        chat_states=build_chat_states(async_redis),
    )
    wire_simulators(runtime)
    for port, dotted in ADAPTER_BUILDERS.items():
        setattr(runtime, port, _builder(dotted)(runtime))
    if runtime.notifier is not None:  # a linked Telegram chat, else SMS
        runtime.notifier = _builder(NOTIFIER_BY_CHANNEL)(runtime, runtime.notifier)
    runtime.rate_sources = list(_builder(RATE_SOURCES_BUILDER)(settings, get=httpx_get))
    wire_job_handlers()
    if kind == "web":
        wire_web(runtime)
    return runtime


def install(
    settings: Settings | None = None,
    *,
    for_worker: bool = False,
    log_level: str = "INFO",
    kind: ProcessKind = "worker",
) -> Runtime:
    """Configure masked JSON logs (on stderr: stdout stays clean for CLI output) and install the Runtime
    (workers, the scheduler and the CLI; the web app builds its own in webapp.app)."""
    configure_logging(level=log_level, stream=sys.stderr)
    runtime = build_runtime(settings, for_worker=for_worker, kind=kind)
    runtime_module.install(runtime)
    return runtime
