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
from core.ports import (
    ChainGateway,
    CollectionRail,
    ComplianceGate,
    JobQueue,
    MobileMoney,
    Notifier,
    RateSource,
)
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
    # collection rails by name (core.quotes.maths.Rail value): "pesapal" (cards, Airtel Money)
    collection_rails: dict[str, CollectionRail] = field(default_factory=dict)
    redis: Any = None  # redis.asyncio.Redis in production; None in the embedded default
    # Simulators, wired by webapp.bootstrap on the embedded default and in tests only (never in production):
    chain_simulation: Any = None  # wallets.scanning.chain.ChainSimulation: chains with no node URL
    sms_simulator_url: Callable[[], str] | None = None  # the Africa's Talking fake's URL (started on use)
    telegram_double: Any = None  # simulators.telegram_bot_api.BotApiDouble: no bot token, no Bot API server
    # Tests only: called right after Daraja accepted a payout, before the database hears of it (a crash here
    # is the chaos tests' fault); None everywhere else.
    payout_sent_probe: Callable[[], None] | None = None
    # simulators.pesapal.PesapalSimulator, mounted at /pesapal-sim: no PESAPAL_BASE_URL (never production)
    pesapal_simulator: Any = None
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
