"""The one settings class. Environment variables (or a .env file) configure every process.

`KIBETI_ENV=production` makes start-up refuse defaults, weak secrets and missing credentials,
naming the variable to set.
"""

from __future__ import annotations

import os
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - refused in production
MIN_SECRET_KEY_LENGTH = 32
MIN_MASTER_PASSPHRASE_LENGTH = 20
# The path of the Daraja simulator the web app mounts in-process (payouts.adapter.EMBEDDED_SIMULATOR_PATH)
SIMULATOR_URL_MARKERS = ("/daraja-sim",)
# Daraja refuses callback URLs containing any of these words (PROTOCOLS.md 1.9), case-insensitive
# ("exe" also covers "exec").
DARAJA_FORBIDDEN_URL_WORDS = ("mpesa", "m-pesa", "m_pesa", "safaricom", "exe", "cmd", "sql", "query")
# python-telegram-bot 22.x reads time periods (RetryAfter.retry_after, ...) as ints with a
# DeprecationWarning on every 429 unless this opts in to v23's timedelta; channels/telegram reads
# timedeltas. Set here because this module is the one that touches the environment.
os.environ.setdefault("PTB_TIMEDELTA", "true")


def daraja_forbidden_words(url: str) -> list[str]:
    """The words in `url` that make Daraja refuse it as a callback URL."""
    lowered = url.lower()
    return [word for word in DARAJA_FORBIDDEN_URL_WORDS if word in lowered]


class BitcoinNet(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"
    REGTEST = "regtest"


# The environment variable of each network's account key (wallets.networks.Network values), for messages.
ACCOUNT_KEY_SETTINGS = {"btc": "BTC_ACCOUNT_XPUB", "erc20": "ETH_ACCOUNT_XPUB", "trc20": "TRON_ACCOUNT_XPUB"}


class WalletSettings(BaseSettings):
    """Section `Settings.wallets`: the chain wallets (unprefixed variables: BTC_ACCOUNT_XPUB, ...).
    API processes get account xpubs only; the sealed seed is read by the signer worker alone."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    btc_account_xpub: str = ""  # zpub of m/84'/0'/0' (vpub of m/84'/1'/0' on test nets)
    eth_account_xpub: str = ""  # xpub of m/44'/60'/0'
    tron_account_xpub: str = ""  # xpub of m/44'/195'/0'
    bitcoin_net: BitcoinNet = BitcoinNet.MAINNET
    btc_confirmations: int = 3  # the blueprint's minimum confirmations: 3 BTC, 3 ERC20, 20 TRON
    erc20_confirmations: int = 3
    trc20_confirmations: int = 20
    erc20_scan_batch: int = 500  # blocks per eth_getLogs call
    erc20_start_block: int = 0
    erc20_dust_minor: int = 10_000  # 0.01 USDT
    trc20_dust_minor: int = 10_000
    btc_dust_sat: int = 546
    btc_quote_inputs: int = 2  # inputs a BTC withdrawal is quoted for when custody cannot pay it yet
    wallets_scan_in_scheduler: bool = False  # real nodes are watched by `kibeti worker chain`
    eth_price_usdt: str = "3000"  # USDT per ETH, to book gas paid in ETH as a USDT network fee
    trx_price_usdt: str = "0.25"  # USDT per TRX, likewise for TRX burned for energy/bandwidth
    hot_wallet_min_usdt_minor: int = 1_000_000_000  # alert staff below 1,000 USDT
    hot_wallet_min_gas_wei: int = 10**17  # alert staff below 0.1 ETH
    withdrawal_stuck_blocks: int = 30  # re-price a withdrawal still pending after this many blocks
    wallet_seed_sealed: str = ""  # core.security.envelope sealed seed: the signer worker only

    def account_keys(self) -> dict[str, str]:
        """Each network's configured account key, by network value."""
        return {"btc": self.btc_account_xpub, "erc20": self.eth_account_xpub, "trc20": self.tron_account_xpub}

    def confirmations(self, network: str) -> int:
        return {
            "btc": self.btc_confirmations,
            "erc20": self.erc20_confirmations,
            "trc20": self.trc20_confirmations,
        }[network]


class ComplianceSettings(BaseSettings):
    """Section `Settings.compliance` (variables prefixed KIBETI_COMPLIANCE_). Thresholds and goAML
    codes marked [U] in COMPLIANCE.md are here so the MLRO can change them without a release."""

    model_config = SettingsConfigDict(env_prefix="KIBETI_COMPLIANCE_", env_file=".env", extra="ignore")

    rentity_id: str = "0000"  # FRC-issued reporting entity id
    rentity_branch: str = ""
    institution_name: str = "Kibeti"
    mlro_first_name: str = "Money Laundering"
    mlro_last_name: str = "Reporting Officer"
    mlro_email: str = "mlro@kibeti.example"
    mlro_phone: str = "+254700000000"
    mlro_occupation: str = "MLRO"
    address: str = "Kibeti House, Moi Avenue"
    city: str = "Nairobi"
    country_code: str = "KE"
    ctr_threshold_kes: Decimal = Decimal("1940000")  # about USD 15,000 per customer per day [U]
    # goAML code lists (FRC KE customisation, schema v4.0.2): confirm against the FRC PDF [U]
    transmode_mobile_money: str = "MM01"
    transmode_crypto: str = "EFT01"
    funds_code: str = "E"
    identifier_type_national_id: str = "A"
    address_type: str = "B"  # business
    phone_contact_type: str = "B"
    phone_communication_type: str = "M"  # mobile
    mpesa_institution: str = "Safaricom M-PESA"
    # Identity registry (IPRS): "simulator" (development and tests: any well-formed ID matches unless
    # registered otherwise) or "none" (every identity goes to staff). Never simulated in production.
    iprs: str = "simulator"
    # A movement held for review and not decided within this many hours is refused (SMS sent).
    review_expiry_hours: int = 72


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Sections per package, each read from its own variables (see the classes above).
    wallets: WalletSettings = Field(default_factory=WalletSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)

    log_level: str = "INFO"  # the web app's log level (LOG_LEVEL)
    kibeti_debug: bool = False  # the CLI shows tracebacks (KIBETI_DEBUG)

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
    mpesa_callback_token: SecretStr = SecretStr("dev-daraja-callback-token")  # no word Daraja refuses
    # <base>/<prefix>/<token>/<kind>: a neutral word, since Daraja refuses URLs containing "mpesa"
    mpesa_callback_path_prefix: str = "cb"
    mpesa_b2c_rate_per_hour: int = 200
    mpesa_b2c_rate_burst: int = 1
    mpesa_shortcode_daily_limit_kes: int = 20_000_000  # per-shortcode daily value; over it payouts wait
    mpesa_reconcile_after_s: float = 120  # a payout sent this long without a result is queried
    mpesa_low_float_kes: Decimal = Decimal(50_000)  # the B2C utility float below which staff are told
    mpesa_timeout_s: float = 30
    # RQ payout workers (payouts.worker): the Runtime builder each process calls, extra modules to import
    kibeti_worker_setup: str = "webapp.bootstrap.install"
    kibeti_worker_preload: str = ""  # comma-separated module names

    # PesaPal API 3.0 (cards, Airtel Money). Empty base URL: the built-in PesaPal simulator.
    pesapal_base_url: str = (
        ""  # e.g. https://pay.pesapal.com/v3 (sandbox https://cybqa.pesapal.com/pesapalv3)
    )
    pesapal_consumer_key: SecretStr = SecretStr("")
    pesapal_consumer_secret: SecretStr = SecretStr("")
    # Where customers open payment links and PesaPal sends IPNs (our public address). The IPN needs
    # no secret: it only makes us ask PesaPal's GetTransactionStatus, whose answer alone counts.
    pesapal_public_base_url: str = "http://127.0.0.1:8000"

    at_username: str = "sandbox"
    at_api_key: SecretStr = SecretStr("")
    at_shortcode: str = "*483*1#"
    at_sender_id: str = ""
    at_callback_token: SecretStr = SecretStr("dev-at-callback-token")
    at_base_url: str = ""  # empty: the local Africa's Talking fake
    customer_care_phone: str = "0800 720 111"  # shown on Help and wherever a message says "customer care"

    telegram_bot_token: SecretStr = SecretStr("")  # empty: the bot talks to the in-process Bot API double
    # The path segment of POST /telegram/<secret> and setWebhook's secret_token (A-Z a-z 0-9 _ -)
    telegram_webhook_secret: SecretStr = SecretStr("dev-telegram-webhook-secret")
    # Any Bot API server ("https://api.telegram.org/bot", a self-hosted telegram-bot-api, the double);
    # PTB appends the token. Empty: Telegram's, or the in-process double when no token is set.
    telegram_api_base_url: str = ""

    fx_api_key: SecretStr = SecretStr("")
    fx_usd_kes_url: str = ""  # empty: fixed demo rates, labelled as demo
    fx_usd_kes_fallback_url: str = ""
    fx_crypto_url: str = ""
    fx_crypto_fallback_url: str = ""
    fx_max_age_seconds: int = 300  # older rates are stale: quoting stops rather than guess
    fx_disagreement_percent: Decimal = Decimal(2)  # sources further apart raise a staff alert
    fx_source_timeout_seconds: Decimal = Decimal(5)
    quote_ttl_seconds: int = 60  # USSD quotes expire after this
    # Merchants on the daily schedule are settled to M-Pesa once a day from this hour, Nairobi time
    settlement_daily_hour: int = Field(default=17, ge=0, le=23)

    # Signed audit checkpoints are appended here (ship the file off the machine); default data_dir.
    audit_checkpoint_path: Path | None = None

    # Proxies whose X-Forwarded-For is believed (addresses or networks); nobody else's is, not even
    # 127.0.0.1's. Empty: the TCP peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Where M-Pesa and Africa's Talking callbacks may come from; production refuses to start without it.
    callback_ip_allowlist: list[str] = Field(default_factory=list)

    # Operations: Prometheus multiprocess mode (several uvicorn workers / RQ work-horses share this
    # directory; empty: one process) and Sentry error reports (empty DSN: off).
    prometheus_multiproc_dir: str = ""
    sentry_dsn: SecretStr = SecretStr("")
    sentry_traces_sample_rate: float = 0.0  # a sampling ratio, not money

    # Merchant webhooks (core/webhooks, channels/webhooks). None: decided by KIBETI_ENV (production
    # refuses private/loopback/link-local destinations and plain http; other environments allow them).
    webhook_allow_private_destinations: bool | None = None
    webhook_require_https: bool | None = None
    # Seconds to wait after each failed attempt (jittered); one entry per retry, about three days.
    webhook_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [10.0, 60.0, 600.0, 3600.0, 21600.0, 86400.0, 86400.0, 86400.0]
    )
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)
    webhook_disable_after_hours: float = Field(default=72, gt=0)  # failing this long: endpoint disabled

    # Web portals (webapp/web): a signed-in staff page is signed out after this many idle minutes.
    staff_portal_idle_minutes: int = Field(default=15, ge=1, le=24 * 60)

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
        self._check_callbacks()
        self._check_telegram()
        self._check_master_passphrase()
        self._check_real_services()

    def _check_telegram(self) -> None:
        """A bot with a real token needs a webhook secret nobody can guess."""
        if not self.telegram_bot_token.get_secret_value():
            return
        secret = self.telegram_webhook_secret.get_secret_value()
        if secret.startswith("dev-") or len(secret) < 24:
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET is a default or weak value: set a random one")

    def _check_master_passphrase(self) -> None:
        """Every sealed secret (wallet seed, TOTP secrets, OTPs) hangs on this passphrase."""
        passphrase = self.master_passphrase.get_secret_value()
        if (
            len(passphrase) < MIN_MASTER_PASSPHRASE_LENGTH
            or len(set(passphrase)) < 10
            or passphrase == self.secret_key.get_secret_value()
        ):
            raise ConfigError(
                f"MASTER_PASSPHRASE is weak: set MASTER_PASSPHRASE to a random passphrase of at least "
                f"{MIN_MASTER_PASSPHRASE_LENGTH} characters, not the SECRET_KEY "
                "(e.g. `openssl rand -base64 32`)"
            )

    def _check_real_services(self) -> None:
        """No simulator or demo stand-in behind a production process: real rates, SMS and M-Pesa."""
        for name, url in {"FX_USD_KES_URL": self.fx_usd_kes_url, "FX_CRYPTO_URL": self.fx_crypto_url}.items():
            if not url.strip():
                raise ConfigError(
                    f"{name} is not set: production would quote the fixed DEMO rates; set {name} "
                    "to the rate source's URL"
                )
        if not self.at_base_url.strip():
            raise ConfigError(
                "AT_BASE_URL is not set: production would send SMS to the local Africa's Talking fake; "
                "set AT_BASE_URL to Africa's Talking's API URL"
            )
        if self.at_username.strip().lower() == "sandbox":
            raise ConfigError(
                "AT_USERNAME is 'sandbox' (Africa's Talking's simulator): set your app's username"
            )
        for name, url in {"MPESA_BASE_URL": self.mpesa_base_url, "AT_BASE_URL": self.at_base_url}.items():
            if any(marker in url.lower() for marker in SIMULATOR_URL_MARKERS):
                raise ConfigError(f"{name} points at a simulator ({url}): set the provider's real URL")

    def _check_callbacks(self) -> None:
        """Callbacks Daraja will deliver, and only from where they may come (production)."""
        if not [entry for entry in self.callback_ip_allowlist if entry.strip()]:
            raise ConfigError(
                "CALLBACK_IP_ALLOWLIST is empty; production needs the addresses M-Pesa and "
                "Africa's Talking call back from (an empty list would let anyone in)"
            )
        prefix = self.mpesa_callback_path_prefix
        words = daraja_forbidden_words(f"{self.mpesa_callback_base_url}/{prefix}/")
        if words:
            raise ConfigError(
                f"MPESA_CALLBACK_BASE_URL/MPESA_CALLBACK_PATH_PREFIX contain {', '.join(words)!s}: "
                "Daraja refuses callback URLs with these words; use a neutral prefix such as 'cb'"
            )
        if daraja_forbidden_words(self.mpesa_callback_token.get_secret_value()):
            raise ConfigError("MPESA_CALLBACK_TOKEN contains a word Daraja refuses in URLs: set another one")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def override_for_this_process(**values: str) -> None:
    """Set settings for the rest of this process and the processes it starts (`kibeti serve` points
    M-Pesa callbacks at its own port before uvicorn builds the app): the one place that writes the
    environment."""
    for name, value in values.items():
        os.environ[name.upper()] = value
    get_settings.cache_clear()
