"""`kibeti telegram set-webhook | info`: register the bot's webhook with the Bot API and show it."""

from __future__ import annotations

import re
import sys

import click
from telegram.error import InvalidToken, TelegramError

from channels.telegram.bot import NoBotConfigured, standalone_bot
from core.runtime import Runtime
from webapp.cli._common import run_with_runtime

# setWebhook's secret_token: 1-256 characters from A-Z a-z 0-9 _ - (PROTOCOLS.md 3.1)
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = ["message", "callback_query"]  # what the bot acts on; edits and the rest stay at Telegram


def _masked(url: str, secret: str) -> str:
    return url.replace(secret, "***") if secret else url


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


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
    """Register <public-url>/telegram/<TELEGRAM_WEBHOOK_SECRET> with the secret as secret_token."""
    if not re.match(r"^https?://[^\s/]+", public_url):
        _fail(f"--public-url must be an http(s) URL such as https://kibeti.example.com, not {public_url!r}")

    async def work(runtime: Runtime) -> str:
        secret = runtime.settings.telegram_webhook_secret.get_secret_value()
        if not _SECRET.match(secret):
            raise NoBotConfigured("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters from A-Z a-z 0-9 _ -")
        url = f"{public_url.rstrip('/')}/telegram/{secret}"
        async with standalone_bot(runtime) as bot:
            await bot.set_webhook(
                url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=drop_pending
            )
            info = await bot.get_webhook_info()
        return _masked(info.url, secret)

    try:
        registered = run_with_runtime(work)
    except NoBotConfigured as exc:
        _fail(str(exc))
    except InvalidToken:
        _fail("the Bot API refused TELEGRAM_BOT_TOKEN")
    except TelegramError as exc:
        _fail(f"the Bot API refused the webhook: {exc.message}")
    click.echo(f"webhook set: {registered} (secret token set)")


@cli.command(name="info")
def info_command() -> None:
    """Show the bot (getMe) and its webhook (getWebhookInfo)."""

    async def work(runtime: Runtime) -> list[str]:
        secret = runtime.settings.telegram_webhook_secret.get_secret_value()
        async with standalone_bot(runtime) as bot:
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

    try:
        lines = run_with_runtime(work)
    except NoBotConfigured as exc:
        _fail(str(exc))
    except InvalidToken:
        _fail("the Bot API refused TELEGRAM_BOT_TOKEN")
    except TelegramError as exc:
        _fail(f"the Bot API answered an error: {exc.message}")
    for line in lines:
        click.echo(line)
