"""The Runtime: everything a use case or a job needs, built once by webapp.bootstrap.

Jobs (which RQ runs in a fresh process/event loop) call `runtime.get()`; the worker entry point
installs the runtime before it starts taking jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.config import Settings
from core.db.session import with_clock
from core.ports import (
    ChainGateway,
    CollectionRail,
    ComplianceGate,
    JobQueue,
    Notifier,
    RateSource,
)
from core.telegram.store import ChatStateStore

if TYPE_CHECKING:
    from core.ratelimit import RateLimiter
    from core.security.envelope import Keyring


@dataclass
class Runtime:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    queue: JobQueue
    notifier: Notifier | None = None
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
    # The envelope keyring, derived on first use and then kept (PBKDF2 is deliberately slow); and the one
    # rate limiter (Redis when configured). Both default from the settings and redis above.
    keyring: Callable[[], Keyring] | None = None
    rate_limiter: RateLimiter | None = None
    ussd_engine: Any = None  # channels.ussd.engine.Engine: web processes (webapp.bootstrap.wire_web)
    # The web process's python-telegram-bot Application (channels.telegram.bot), built by
    # webapp.bootstrap (None elsewhere, and in production with no bot), and the lock that starts it once.
    telegram_application: Any = None
    telegram_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        from core.ratelimit import make_rate_limiter
        from core.security.keyring import keyring_from_settings

        if self.keyring is None:
            self.keyring = cache(partial(keyring_from_settings, self.settings))
        if self.rate_limiter is None:
            self.rate_limiter = make_rate_limiter(self.redis)

    def __setattr__(self, name: str, value: Any) -> None:
        """One clock: the sessions carry the runtime's, whichever of the two is set (or set again)."""
        if name == "session_factory" and value is not None and "clock" in self.__dict__:
            value = with_clock(value, self.clock)
        super().__setattr__(name, value)
        if name == "clock" and self.__dict__.get("session_factory") is not None:
            super().__setattr__("session_factory", with_clock(self.session_factory, value))


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def get() -> Runtime:
    if _current is None:
        raise RuntimeError("no Runtime installed: start processes through the composition root (bootstrap)")
    return _current
