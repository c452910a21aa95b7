"""`kibeti telegram set-webhook | info` against the Bot API double: the URL and the secret token
registered, the secret never printed; clear errors for wrong arguments and missing settings."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from simulators.telegram_bot_api import BotApiDouble, DoubleServer, double_app
from tests.cli import kibeti
from webapp.api.telegram import DOUBLE_PATH

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
    no_app = kibeti(
        "telegram", "info",
        env=_env(
            tmp_path, bot_api, TELEGRAM_BOT_TOKEN="", TELEGRAM_API_BASE_URL="",
            MPESA_CALLBACK_BASE_URL="http://127.0.0.1:19299",  # nothing listens there
        ),
    )  # fmt: skip
    assert no_app.returncode == 1, no_app.stderr
    assert "cannot reach the Bot API at http://127.0.0.1:19299/telegram-sim/bot" in no_app.stderr
    assert "kibeti serve" in no_app.stderr and "Traceback" not in no_app.stderr
    wrong_token = kibeti("telegram", "info", env=_env(tmp_path, bot_api, TELEGRAM_BOT_TOKEN="999:WRONG"))
    assert wrong_token.returncode == 1 and "refused TELEGRAM_BOT_TOKEN (401" in wrong_token.stderr
    assert "Traceback" not in wrong_token.stderr
    wrong_path = f"http://127.0.0.1:{bot_api.port}/api/bot"  # the double answers 404: no such path
    wrong_base = kibeti("telegram", "info", env=_env(tmp_path, bot_api, TELEGRAM_API_BASE_URL=wrong_path))
    assert wrong_base.returncode == 1, wrong_base.stderr
    assert f"the Bot API at {wrong_path} answered 404" in wrong_base.stderr
    assert "TELEGRAM_API_BASE_URL" in wrong_base.stderr and "refused" not in wrong_base.stderr
    assert bot_api.double.webhook == {}


def test_on_the_embedded_default_set_webhook_uses_the_apps_bot_api_double(tmp_path: Path) -> None:
    """No token, no TELEGRAM_API_BASE_URL: the command talks to the double the running app serves at
    /telegram-sim, at MPESA_CALLBACK_BASE_URL (here a server mounting the double the way the app does)."""
    double = BotApiDouble()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Mount(DOUBLE_PATH, double_app(double))]),
            host="127.0.0.1", port=0, log_level="warning", lifespan="off",
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the app's stand-in did not start"
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        env = {
            "KIBETI_ENV": "test",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db",
            "REDIS_URL": "",
            "TELEGRAM_BOT_TOKEN": "",
            "TELEGRAM_API_BASE_URL": "",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "MPESA_CALLBACK_BASE_URL": f"http://127.0.0.1:{port}",
        }
        done = kibeti("telegram", "set-webhook", "--public-url", f"http://127.0.0.1:{port}", env=env)
        assert done.returncode == 0, done.stderr
        assert double.webhook["url"] == f"http://127.0.0.1:{port}/telegram/{SECRET}"
        assert "webhook set: " in done.stdout and SECRET not in done.stdout
    finally:
        server.should_exit = True
        thread.join(timeout=10)
