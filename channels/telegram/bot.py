"""The bot's python-telegram-bot Application: built once per web process at start-up (webapp.bootstrap
calls `build`), started on the first update (starting asks the Bot API: getMe), webhook-fed (no updater).

Where it sends: TELEGRAM_API_BASE_URL when set (a self-hosted Bot API server, or the double in
tests); Telegram when only a token is set; with neither, the in-process Bot API double, which the
web app exposes on the embedded default.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from telegram import Bot
from telegram.ext import Application, ApplicationBuilder, ExtBot

from channels.telegram.handlers import install_handlers
from channels.telegram.ordering import PerChatOrder
from channels.telegram.pacing import ChatPacing
from core.flows.service import CoreFlows
from core.runtime import Runtime
from core.telegram.flows import TelegramLinks

SIMULATED_TOKEN = "100000:SIMULATED-no-real-bot"  # noqa: S105 - not a secret: the token the embedded default's double sees
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")  # what @BotFather hands out: <bot id>:<secret>


def simulated(rt: Runtime) -> bool:
    """No token and no Bot API server configured: the bot talks to the in-process double."""
    return not rt.settings.telegram_bot_token.get_secret_value() and not rt.settings.telegram_api_base_url


def embedded_double(rt: Runtime) -> Any:
    """The in-process Bot API double of the embedded default (wired by webapp.bootstrap, never in a
    process with a real bot)."""
    if rt.telegram_double is None:
        raise NoBotConfigured(
            "no Bot API double in this process: set TELEGRAM_BOT_TOKEN or TELEGRAM_API_BASE_URL"
        )
    return rt.telegram_double


def build(rt: Runtime) -> Application | None:  # type: ignore[type-arg]
    """The web process's Application, built (not started) at start-up; a misconfigured bot fails
    here, naming the setting. None in production with no bot configured: the webhook refuses every
    update there, so there is nothing to build."""
    if rt.settings.is_production and simulated(rt):
        return None
    check_settings(rt)
    return build_application(rt)


def check_settings(rt: Runtime) -> None:
    token = rt.settings.telegram_bot_token.get_secret_value()
    if token and not _TOKEN_SHAPE.fullmatch(token):
        raise NoBotConfigured("TELEGRAM_BOT_TOKEN is not a bot token (<bot id>:<secret>, from @BotFather)")
    base_url = rt.settings.telegram_api_base_url
    if base_url and not base_url.startswith(("http://", "https://")):
        raise NoBotConfigured(
            "TELEGRAM_API_BASE_URL must be an http(s) URL (e.g. https://api.telegram.org/bot)"
        )


def build_application(rt: Runtime) -> Application:  # type: ignore[type-arg]
    settings = rt.settings
    builder: ApplicationBuilder = Application.builder().updater(None)  # type: ignore[type-arg]
    if simulated(rt):
        double = embedded_double(rt)
        builder = (
            builder.token(SIMULATED_TOKEN).request(double.request()).get_updates_request(double.request())
        )
    else:
        builder = builder.token(settings.telegram_bot_token.get_secret_value() or SIMULATED_TOKEN)
        if settings.telegram_api_base_url:
            builder = builder.base_url(settings.telegram_api_base_url)
    # many chats at once, each chat's updates in order (PTB's default is one update at a time); at
    # start-up, chats' queues left without a holder (their processes shut down) are drained here
    processor = PerChatOrder(states=rt.chat_states, recover=True)
    application = builder.rate_limiter(ChatPacing()).concurrent_updates(processor).build()
    processor.bind(application)  # an update queued in Redis by another process is handled here
    install_handlers(
        application, flows=CoreFlows(rt), links=TelegramLinks(rt), shortcode=settings.at_shortcode,
        states=rt.chat_states, now=rt.clock.now,
    )  # fmt: skip
    return application


async def running_application(rt: Runtime) -> Application:  # type: ignore[type-arg]
    """The process's Application (built at start-up), initialised (getMe) and consuming its update
    queue."""
    application = rt.telegram_application
    if not isinstance(application, Application):
        raise NoBotConfigured(
            "this process has no bot: webapp.bootstrap builds it for web processes "
            "(set TELEGRAM_BOT_TOKEN or TELEGRAM_API_BASE_URL in production)"
        )
    if application.running:
        return application
    async with rt.telegram_lock:
        if not application.running:
            await application.initialize()
            await application.start()
    return application


async def stop_application(rt: Runtime) -> None:
    """Stop consuming updates and close the Bot API client (the web app's shutdown, tests' teardown).
    Updates still queued are dropped: Telegram redelivers nothing we answered 200, so a busy
    shutdown loses them (production wants Redis persistence and a drained queue: next step). The
    Application stays built: a later update starts it again."""
    application = rt.telegram_application
    if isinstance(application, Application):
        if application.running:
            await application.stop()
        await application.shutdown()


@contextlib.asynccontextmanager
async def notice_bot(rt: Runtime) -> AsyncIterator[Bot]:
    """The bot that sends notices from a job: this process's running Application's (the embedded
    default, where jobs run in the web process), else one for this job, paced the same way."""
    application = rt.telegram_application
    if isinstance(application, Application) and application.running:
        yield application.bot
        return
    bot: ExtBot[int]
    if simulated(rt):
        double = embedded_double(rt)
        bot = ExtBot(
            SIMULATED_TOKEN,
            request=double.request(),
            get_updates_request=double.request(),
            rate_limiter=ChatPacing(),
        )
    else:
        token = rt.settings.telegram_bot_token.get_secret_value() or SIMULATED_TOKEN
        base_url = rt.settings.telegram_api_base_url or "https://api.telegram.org/bot"
        # a worker process: the 30 messages/s are shared with every other worker through Redis
        bot = ExtBot(token, base_url=base_url, rate_limiter=ChatPacing(shared_redis=rt.redis))
    async with bot:
        yield bot


def standalone_bot(rt: Runtime) -> Bot:
    """A Bot for one-off commands (the CLI): the configured server, never the in-process double,
    which lives inside the web app's process."""
    settings = rt.settings
    if simulated(rt):
        raise NoBotConfigured(
            "set TELEGRAM_BOT_TOKEN (Telegram) or TELEGRAM_API_BASE_URL (a Bot API server or the double)"
        )
    token = settings.telegram_bot_token.get_secret_value() or SIMULATED_TOKEN
    if settings.telegram_api_base_url:
        return Bot(token, base_url=settings.telegram_api_base_url)
    return Bot(token)


class NoBotConfigured(Exception):
    pass
