"""The Runtime: everything a use case or a job needs, built once by webapp.bootstrap.

Jobs (which RQ runs in a fresh process/event loop) call `runtime.get()`; the worker entry point
installs the runtime before it starts taking jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.config import Settings
from core.ports import ChainGateway, ComplianceGate, JobQueue, MobileMoney, Notifier, RateSource
from core.telegram.store import ChatStateStore


@dataclass
class Runtime:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    queue: JobQueue
    notifier: Notifier | None = None
    mobile_money: MobileMoney | None = None
    chains: ChainGateway | None = None
    compliance: ComplianceGate | None = None
    rate_sources: list[RateSource] = field(default_factory=list)
    redis: Any = None  # redis.asyncio.Redis in production; None in the embedded default
    # Simulators, wired by webapp.bootstrap on the embedded default and in tests only (never in production):
    chain_simulation: Any = None  # wallets.scanning.chain.ChainSimulation: chains with no node URL
    sms_simulator_url: Callable[[], str] | None = None  # the Africa's Talking fake's URL (started on use)
    telegram_double: Any = None  # simulators.telegram_bot_api.BotApiDouble: no bot token, no Bot API server
    chat_states: ChatStateStore | None = None  # Telegram conversations (Redis, or memory)
    extras: dict[str, Any] = field(default_factory=dict)


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def get() -> Runtime:
    if _current is None:
        raise RuntimeError("no Runtime installed: start processes through webapp.bootstrap")
    return _current
