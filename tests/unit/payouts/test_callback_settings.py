"""Issue 11 items 0 and 8: callback URLs Daraja accepts, an allow-list production cannot run without,
forwarded addresses only from configured proxies, and the path token kept out of access logs."""

from __future__ import annotations

import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from core.config import Settings, daraja_forbidden_words
from core.errors import ConfigError
from core.security import callbacks
from core.security.errors import CallbackRejected
from payouts import adapter
from payouts.mpesa import wire
from payouts.mpesa.credentials import generate_test_certificate
from webapp.cli.serve import proxy_options
from webapp.middleware import _loggable_path

STRONG = "b7c1f0e2a9d84c6b3e5f7a1d2c4b6e8f0a1b2c3d"
DARAJA_IPS = ["196.201.214.200", "196.201.213.114", "196.201.212.0/24"]


def production(**overrides: object) -> Settings:
    values: dict[str, object] = dict(
        kibeti_env="production",
        secret_key=STRONG,
        database_url="postgresql+asyncpg://k@db/k",
        redis_url="redis://r:6379/0",
        master_passphrase="correct horse battery staple",
        mpesa_base_url="https://api.safaricom.co.ke",
        mpesa_consumer_key="ck",
        mpesa_consumer_secret="cs",
        mpesa_passkey="pk",
        mpesa_initiator_password="ip",
        mpesa_callback_base_url="https://pay.kibeti.co.ke",
        at_api_key="at",
        ethereum_rpc_url="http://eth",
        tron_rpc_url="http://tron",
        bitcoin_rpc_url="http://btc",
        fx_api_key="fx",
        mpesa_callback_token="m" + STRONG,
        at_callback_token="a" + STRONG,
        callback_ip_allowlist=DARAJA_IPS,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def _own_config_errors(settings: Settings) -> str:
    """The callback checks' verdict ("" when they pass), whatever other production checks say."""
    try:
        settings._check_callbacks()
    except ConfigError as exc:
        return str(exc)
    return ""


def test_the_default_callback_urls_are_ones_daraja_accepts():
    settings = Settings(_env_file=None)
    assert settings.mpesa_callback_path_prefix == "cb"
    config = adapter.config(settings, generate_test_certificate()[0])
    for kind in ("stk", "b2c/result", "b2c/timeout", "b2b/result", "status/result", "status/timeout",
                 "balance/result", "c2b/confirmation", "c2b/validation"):  # fmt: skip
        url = config.callback(kind)
        assert "/cb/" in url and daraja_forbidden_words(url) == [], url


def test_a_complete_production_config_passes_the_callback_checks():
    assert _own_config_errors(production()) == ""


@pytest.mark.parametrize("prefix", ["mpesa", "MPesa", "m-pesa", "safaricom", "query", "sqlcb", "exec", "cmd"])
def test_production_refuses_a_prefix_daraja_would_refuse(prefix):
    assert "MPESA_CALLBACK_PATH_PREFIX" in _own_config_errors(production(mpesa_callback_path_prefix=prefix))


def test_production_refuses_a_base_url_daraja_would_refuse():
    error = _own_config_errors(production(mpesa_callback_base_url="https://mpesa.kibeti.co.ke"))
    assert "MPESA_CALLBACK_BASE_URL" in error


@pytest.mark.parametrize("allowlist", [[], [""], ["  "]])
def test_production_refuses_to_start_without_a_callback_allowlist(allowlist):
    assert "CALLBACK_IP_ALLOWLIST" in _own_config_errors(production(callback_ip_allowlist=allowlist))
    with pytest.raises(ConfigError, match="CALLBACK_IP_ALLOWLIST"):
        production(callback_ip_allowlist=allowlist).check_production()


def test_development_may_keep_the_old_prefix_and_no_allowlist():
    Settings(_env_file=None, mpesa_callback_path_prefix="mpesa").check_production()  # type: ignore[call-arg]


def test_an_empty_allowlist_lets_nobody_in_where_one_is_required():
    with pytest.raises(CallbackRejected):
        callbacks.check_callback(
            path_token="t" * 24, expected_token="t" * 24, peer="196.201.214.200", require_allowlist=True
        )
    assert callbacks.check_callback(
        path_token="t" * 24, expected_token="t" * 24, peer="196.201.214.200", allowlist=DARAJA_IPS,
        require_allowlist=True,
    ) == "196.201.214.200"  # fmt: skip


def test_serve_trusts_forwarded_addresses_only_from_configured_proxies():
    assert proxy_options(Settings(_env_file=None)) == {"proxy_headers": False, "forwarded_allow_ips": []}
    options = proxy_options(Settings(_env_file=None, trusted_proxies=["10.0.0.5"]))  # type: ignore[call-arg]
    assert options == {"proxy_headers": True, "forwarded_allow_ips": ["10.0.0.5"]}


async def test_a_spoofed_forwarded_for_from_localhost_is_not_believed():
    """What uvicorn hands the app: with the default settings the peer stays 127.0.0.1 whatever the
    header says, so the allow-list sees the real peer."""
    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(scope["client"][0])

    options = proxy_options(Settings(_env_file=None))
    wrapped = ProxyHeadersMiddleware(app, trusted_hosts=options["forwarded_allow_ips"])
    scope = {
        "type": "http",
        "client": ("127.0.0.1", 5000),
        "headers": [(b"x-forwarded-for", b"196.201.214.200")],
    }
    await wrapped(scope, None, None)  # type: ignore[arg-type]
    assert seen == ["127.0.0.1"]
    with pytest.raises(CallbackRejected):
        callbacks.check_callback(
            path_token="t" * 24, expected_token="t" * 24, peer=seen[0],
            forwarded_for="196.201.214.200", allowlist=DARAJA_IPS,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/cb/s3cret-token-0123456789/c2b/confirmation", "/cb/***/c2b/confirmation"),
        ("/mpesa/s3cret-token-0123456789/stk", "/mpesa/***/stk"),
        ("/cb/s3cret-token-0123456789", "/cb/***"),
        ("/api/staff/payouts/failed-jobs", "/api/staff/payouts/failed-jobs"),
    ],
)
def test_access_logs_never_show_the_callback_token(path, logged):
    assert _loggable_path(path) == logged


def test_a_custom_prefix_is_masked_too():
    assert _loggable_path("/hooks/s3cret/stk", ("cb", "mpesa", "hooks")) == "/hooks/***/stk"


def test_stored_api_calls_never_hold_the_callback_token():
    body = {"ResultURL": "https://pay.kibeti.co.ke/cb/s3cret-token/b2c/result", "SecurityCredential": "x"}
    stored = wire.redact(body, hide="s3cret-token")
    assert "s3cret-token" not in str(stored) and stored["SecurityCredential"] == "***"


def test_uvicorns_own_access_line_with_the_raw_path_stays_off():
    import logging

    from fastapi import FastAPI

    from webapp import middleware

    middleware.install(FastAPI())
    access = logging.getLogger("uvicorn.access")
    assert not access.hasHandlers() and access.disabled  # uvicorn logs access lines only with handlers
