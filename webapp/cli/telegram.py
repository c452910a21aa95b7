"""`kibeti telegram set-webhook | info`: register the bot's webhook with the Bot API and show it."""

from __future__ import annotations

import re
import sys

import click
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from channels.telegram.bot import SIMULATED_TOKEN, NoBotConfigured, simulated, standalone_bot
from core.runtime import Runtime
from webapp.api.telegram import DOUBLE_PATH
from webapp.cli._common import run_with_runtime

# setWebhook's secret_token: 1-256 characters from A-Z a-z 0-9 _ - (PROTOCOLS.md 3.1)
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = ["message", "callback_query"]  # what the bot acts on; edits and the rest stay at Telegram


def _masked(url: str, secret: str) -> str:
    return url.replace(secret, "***") if secret else url


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _api_base_url(runtime: Runtime) -> str:
    """Where the Bot API calls go: TELEGRAM_API_BASE_URL, Telegram's own with only a token, and on the
    embedded default (neither set) the Bot API double the running app serves at /telegram-sim, at the
    address MPESA_CALLBACK_BASE_URL gives (`kibeti serve --port` prints it)."""
    settings = runtime.settings
    if settings.telegram_api_base_url:
        return settings.telegram_api_base_url
    if simulated(runtime):
        return f"{settings.mpesa_callback_base_url.rstrip('/')}{DOUBLE_PATH}/bot"
    return "https://api.telegram.org/bot"


def _cli_bot(runtime: Runtime) -> Bot:
    if simulated(runtime):
        return Bot(SIMULATED_TOKEN, base_url=_api_base_url(runtime))
    return standalone_bot(runtime)


def _messages(exc: BaseException) -> list[str]:
    """The messages of `exc` and its causes (Bot.initialize re-raises the answer as "token rejected")."""
    messages: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(messages) < 5:
        messages.append(cause.message if isinstance(cause, TelegramError) else str(cause))
        cause = cause.__cause__
    return messages


def _explain(exc: TelegramError, base_url: str) -> str:
    """One line saying what to change. PTB raises InvalidToken for both 401 and 404: Telegram answers
    404 for a path that names no bot (a wrong base URL or a malformed token), 401 for a refused one."""
    if isinstance(exc, InvalidToken):
        if any("not found" in message.lower() for message in _messages(exc)):
            return (
                f"the Bot API at {base_url} answered 404 Not Found: check TELEGRAM_API_BASE_URL "
                "(it ends in /bot, e.g. https://api.telegram.org/bot) and the shape of TELEGRAM_BOT_TOKEN"
            )
        return (
            "the Bot API refused TELEGRAM_BOT_TOKEN (401 Unauthorized): copy the token again from @BotFather"
        )
    if isinstance(exc, NetworkError):
        return (
            f"cannot reach the Bot API at {base_url} ({exc.message}): is the app running there "
            "(`kibeti serve`)? Set MPESA_CALLBACK_BASE_URL to where it is served, or TELEGRAM_API_BASE_URL"
        )
    return f"the Bot API answered an error: {exc.message}"


@click.group(name="telegram")
def cli() -> None:
    """The Telegram bot: register its webhook, show what the Bot API knows."""


@cli.command(name="set-webhook")
@click.option(
    "--public-url",
    required=True,
    help="Where the Bot API reaches this app, e.g. https://kibeti.example.com (the path is added).",
)
@click.option(
    "--drop-pending", is_flag=True, help="Discard updates Telegram queued while no webhook was set."
)
def set_webhook_command(public_url: str, drop_pending: bool) -> None:
    """Register <public-url>/telegram/<TELEGRAM_WEBHOOK_SECRET> with the secret as secret_token.

    With no TELEGRAM_BOT_TOKEN and no TELEGRAM_API_BASE_URL (the embedded default) it registers with
    the running app's Bot API double, at MPESA_CALLBACK_BASE_URL/telegram-sim/bot."""
    if not re.match(r"^https?://[^\s/]+", public_url):
        _fail(f"--public-url must be an http(s) URL such as https://kibeti.example.com, not {public_url!r}")

    async def work(runtime: Runtime) -> str:
        secret = runtime.settings.telegram_webhook_secret.get_secret_value()
        if not _SECRET.match(secret):
            raise NoBotConfigured("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters from A-Z a-z 0-9 _ -")
        url = f"{public_url.rstrip('/')}/telegram/{secret}"
        base_url.append(_api_base_url(runtime))
        async with _cli_bot(runtime) as bot:
            await bot.set_webhook(
                url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=drop_pending
            )
            info = await bot.get_webhook_info()
        return _masked(info.url, secret)

    base_url: list[str] = []
    try:
        registered = run_with_runtime(work)
    except NoBotConfigured as exc:
        _fail(str(exc))
    except TelegramError as exc:
        _fail(_explain(exc, base_url[0] if base_url else "TELEGRAM_API_BASE_URL"))
    click.echo(f"webhook set: {registered} (secret token set)")


@cli.command(name="info")
def info_command() -> None:
    """Show the bot (getMe) and its webhook (getWebhookInfo)."""

    async def work(runtime: Runtime) -> list[str]:
        secret = runtime.settings.telegram_webhook_secret.get_secret_value()
        base_url.append(_api_base_url(runtime))
        async with _cli_bot(runtime) as bot:
            me = await bot.get_me()
            info = await bot.get_webhook_info()
        lines = [
            f"bot: @{me.username} ({me.first_name}, id {me.id})",
            f"webhook: {_masked(info.url, secret) or '(none)'}",
            f"pending updates: {info.pending_update_count}",
        ]
        if info.last_error_message:
            lines.append(f"last error: {info.last_error_message}")
        if info.allowed_updates:
            lines.append("allowed updates: " + ", ".join(info.allowed_updates))
        return lines

    base_url: list[str] = []
    try:
        lines = run_with_runtime(work)
    except NoBotConfigured as exc:
        _fail(str(exc))
    except TelegramError as exc:
        _fail(_explain(exc, base_url[0] if base_url else "TELEGRAM_API_BASE_URL"))
    for line in lines:
        click.echo(line)
