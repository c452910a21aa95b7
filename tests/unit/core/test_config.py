"""Production refuses default or weak secrets and missing credentials, naming the variable."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.errors import ConfigError

STRONG = "b7c1f0e2a9d84c6b3e5f7a1d2c4b6e8f0a1b2c3d"


def production(**overrides):
    values = dict(
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
        at_api_key="at",
        ethereum_rpc_url="http://eth",
        tron_rpc_url="http://tron",
        bitcoin_rpc_url="http://btc",
        fx_api_key="fx",
        mpesa_callback_token="m" + STRONG,
        at_callback_token="a" + STRONG,
        at_username="kibeti",
        at_base_url="https://api.africastalking.com",
        fx_usd_kes_url="https://v6.exchangerate-api.com/v6/latest/USD",
        fx_crypto_url="https://api.coingecko.com/api/v3/simple/price",
        callback_ip_allowlist=["196.201.214.200"],
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


def test_a_complete_production_config_starts():
    production().check_production()


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"secret_key": "dev-only-insecure-secret-key-change-me"}, "SECRET_KEY"),
        ({"secret_key": "short"}, "SECRET_KEY"),
        ({"secret_key": "a" * 64}, "SECRET_KEY"),
        ({"mpesa_consumer_key": ""}, "MPESA_CONSUMER_KEY"),
        ({"at_api_key": ""}, "AT_API_KEY"),
        ({"redis_url": ""}, "REDIS_URL"),
        ({"database_url": "sqlite+aiosqlite:///x.db"}, "DATABASE_URL"),
        ({"mpesa_callback_token": "dev-mpesa-callback-token"}, "MPESA_CALLBACK_TOKEN"),
        # issue 11 item 14: weak key custody, demo rates, simulators
        ({"master_passphrase": "x"}, "MASTER_PASSPHRASE"),
        ({"master_passphrase": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, "MASTER_PASSPHRASE"),
        ({"master_passphrase": STRONG}, "MASTER_PASSPHRASE"),  # the SECRET_KEY itself
        ({"fx_usd_kes_url": ""}, "FX_USD_KES_URL"),
        ({"fx_crypto_url": ""}, "FX_CRYPTO_URL"),
        ({"at_base_url": ""}, "AT_BASE_URL"),
        ({"at_username": "sandbox"}, "AT_USERNAME"),
        ({"mpesa_base_url": "http://127.0.0.1:8000/daraja-sim"}, "MPESA_BASE_URL"),
    ],
)
def test_production_refuses_and_names_the_variable(overrides, variable):
    with pytest.raises(ConfigError, match=variable):
        production(**overrides).check_production()


def test_production_demo_rates_are_refused_when_the_process_is_built():
    """The composition root checks before building anything: no DEMO rate source in production."""
    from webapp.bootstrap import build_runtime

    with pytest.raises(ConfigError, match="FX_USD_KES_URL"):
        build_runtime(production(fx_usd_kes_url="", fx_crypto_url=""))


def test_development_defaults_are_allowed():
    Settings(_env_file=None).check_production()
