"""`kibeti telegram set-webhook | info` against the Bot API double: the URL and the secret token
registered, the secret never printed; clear errors for wrong arguments and missing settings."""

from __future__ import annotations

from pathlib import Path

from simulators.telegram_bot_api import DoubleServer
from tests.cli import kibeti

TOKEN = "123456:TEST-token"
SECRET = "cli-telegram-webhook-secret_0123456789"


def _env(tmp_path: Path, bot_api: DoubleServer, **extra: str) -> dict[str, str]:
    return {
        "KIBETI_ENV": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        "REDIS_URL": "",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": bot_api.base_url,
        **extra,
    }


def test_set_webhook_registers_url_and_secret_then_info_shows_it(
    tmp_path: Path, bot_api: DoubleServer
) -> None:
    done = kibeti(
        "telegram", "set-webhook", "--public-url", "https://kibeti.example.com/", env=_env(tmp_path, bot_api)
    )
    assert done.returncode == 0, done.stderr
    assert bot_api.double.webhook["url"] == f"https://kibeti.example.com/telegram/{SECRET}"
    assert bot_api.double.webhook["secret_token"] == SECRET
    assert bot_api.double.webhook["allowed_updates"] == ["message", "callback_query"]
    assert "webhook set: https://kibeti.example.com/telegram/***" in done.stdout
    assert SECRET not in done.stdout + done.stderr

    info = kibeti("telegram", "info", env=_env(tmp_path, bot_api))
    assert info.returncode == 0, info.stderr
    assert (
        "simulator" in info.stdout.lower()
        and "webhook: https://kibeti.example.com/telegram/***" in info.stdout
    )
    assert SECRET not in info.stdout + info.stderr


def test_wrong_arguments_and_settings_are_explained(tmp_path: Path, bot_api: DoubleServer) -> None:
    no_url = kibeti("telegram", "set-webhook", env=_env(tmp_path, bot_api))
    assert no_url.returncode == 2 and "--public-url" in no_url.stderr
    bad_url = kibeti(
        "telegram", "set-webhook", "--public-url", "kibeti.example.com", env=_env(tmp_path, bot_api)
    )
    assert bad_url.returncode == 1 and "http(s) URL" in bad_url.stderr
    bad_secret = kibeti(
        "telegram", "set-webhook", "--public-url", "https://k.example.com",
        env=_env(tmp_path, bot_api, TELEGRAM_WEBHOOK_SECRET="has spaces!"),
    )  # fmt: skip
    assert bad_secret.returncode == 1 and "A-Z a-z 0-9 _ -" in bad_secret.stderr
    unset = kibeti(
        "telegram", "info", env=_env(tmp_path, bot_api, TELEGRAM_BOT_TOKEN="", TELEGRAM_API_BASE_URL="")
    )
    assert unset.returncode == 1 and "TELEGRAM_BOT_TOKEN" in unset.stderr
    wrong_token = kibeti("telegram", "info", env=_env(tmp_path, bot_api, TELEGRAM_BOT_TOKEN="999:WRONG"))
    assert wrong_token.returncode == 1 and "refused TELEGRAM_BOT_TOKEN" in wrong_token.stderr
    assert "Traceback" not in wrong_token.stderr
    assert bot_api.double.webhook == {}
