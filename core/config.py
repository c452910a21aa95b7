"""The one settings class. Environment variables (or a .env file) configure every process.

`KIBETI_ENV=production` makes start-up refuse defaults, weak secrets and missing credentials,
naming the variable to set.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - refused in production
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    kibeti_env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")

    database_url: str = "sqlite+aiosqlite:///var/kibeti.db"
    redis_url: str = ""  # empty: in-process substitutes (embedded default)
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    master_passphrase: SecretStr = SecretStr("")  # key custody: derives the envelope key

    ethereum_rpc_url: str = ""  # empty: simulated chain in-process
    tron_rpc_url: str = ""
    bitcoin_rpc_url: str = ""
    usdt_erc20_contract: str = ""
    usdt_trc20_contract: str = ""

    mpesa_base_url: str = ""  # empty: the built-in Daraja simulator
    mpesa_consumer_key: SecretStr = SecretStr("")
    mpesa_consumer_secret: SecretStr = SecretStr("")
    mpesa_shortcode: str = "600000"
    mpesa_passkey: SecretStr = SecretStr("")
    mpesa_initiator_name: str = "testapi"
    mpesa_initiator_password: SecretStr = SecretStr("")
    mpesa_certificate_path: Path | None = None
    mpesa_callback_base_url: str = "http://127.0.0.1:8000"
    mpesa_callback_token: SecretStr = SecretStr("dev-mpesa-callback-token")
    mpesa_b2c_rate_per_hour: int = 200

    at_username: str = "sandbox"
    at_api_key: SecretStr = SecretStr("")
    at_shortcode: str = "*483*1#"
    at_sender_id: str = ""
    at_callback_token: SecretStr = SecretStr("dev-at-callback-token")
    at_base_url: str = ""  # empty: the local Africa's Talking fake

    telegram_bot_token: SecretStr = SecretStr("")
    telegram_webhook_secret: SecretStr = SecretStr("")

    fx_api_key: SecretStr = SecretStr("")
    fx_usd_kes_url: str = ""  # empty: fixed demo rates, labelled as demo
    fx_usd_kes_fallback_url: str = ""
    fx_crypto_url: str = ""
    fx_crypto_fallback_url: str = ""
    fx_max_age_seconds: int = 300  # older rates are stale: quoting stops rather than guess
    fx_disagreement_percent: Decimal = Decimal(2)  # sources further apart raise a staff alert
    fx_source_timeout_seconds: Decimal = Decimal(5)
    quote_ttl_seconds: int = 60  # USSD quotes expire after this

    # Signed audit checkpoints are appended here (ship the file off the machine); default data_dir.
    audit_checkpoint_path: Path | None = None

    trusted_proxies: list[str] = Field(default_factory=list)
    callback_ip_allowlist: list[str] = Field(default_factory=list)

    @property
    def is_production(self) -> bool:
        return self.kibeti_env == "production"

    @property
    def audit_checkpoint_file(self) -> Path:
        return self.audit_checkpoint_path or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def embedded(self) -> bool:
        """No Redis configured: in-process queue and cache (the `make run` default)."""
        return not self.redis_url

    def check_production(self) -> None:
        """Refuse to start in production with a default or weak secret, naming the variable."""
        if not self.is_production:
            return
        key = self.secret_key.get_secret_value()
        if key == DEV_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 10:
            raise ConfigError(
                f"SECRET_KEY is a default or weak value: set SECRET_KEY to a random string of "
                f"at least {MIN_SECRET_KEY_LENGTH} characters (e.g. `openssl rand -hex 32`)"
            )
        required: dict[str, str | SecretStr] = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MASTER_PASSPHRASE": self.master_passphrase,
            "MPESA_BASE_URL": self.mpesa_base_url,
            "MPESA_CONSUMER_KEY": self.mpesa_consumer_key,
            "MPESA_CONSUMER_SECRET": self.mpesa_consumer_secret,
            "MPESA_PASSKEY": self.mpesa_passkey,
            "MPESA_INITIATOR_PASSWORD": self.mpesa_initiator_password,
            "AT_API_KEY": self.at_api_key,
            "ETHEREUM_RPC_URL": self.ethereum_rpc_url,
            "TRON_RPC_URL": self.tron_rpc_url,
            "BITCOIN_RPC_URL": self.bitcoin_rpc_url,
            "FX_API_KEY": self.fx_api_key,
        }
        for name, value in required.items():
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not raw:
                raise ConfigError(f"{name} is not set; production needs it")
        if self.database_url.startswith("sqlite"):
            raise ConfigError("DATABASE_URL points at SQLite; production needs PostgreSQL")
        for name, token in {
            "MPESA_CALLBACK_TOKEN": self.mpesa_callback_token,
            "AT_CALLBACK_TOKEN": self.at_callback_token,
        }.items():
            if token.get_secret_value().startswith("dev-") or len(token.get_secret_value()) < 24:
                raise ConfigError(f"{name} is a default or weak value: set a random one")


@lru_cache
def get_settings() -> Settings:
    return Settings()
