"""docker-compose.yml runs production by default and names every secret it needs, with no default
(issue 11 item 14): .env.example lists exactly what a production process asks for."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import yaml

from core.config import Settings
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
SECRETS = (
    "POSTGRES_PASSWORD", "SECRET_KEY", "MASTER_PASSPHRASE", "MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET",
    "MPESA_PASSKEY", "MPESA_INITIATOR_PASSWORD", "MPESA_CALLBACK_TOKEN", "AT_API_KEY", "AT_CALLBACK_TOKEN",
    "FX_API_KEY", "WALLET_SEED_SEALED",
)  # fmt: skip
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _example() -> dict[str, str]:
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def test_compose_defaults_to_production_and_reads_an_env_file() -> None:
    kibeti = _compose()["x-kibeti"]
    assert kibeti["environment"]["KIBETI_ENV"] == "${KIBETI_ENV:-production}"
    assert ".env" in kibeti["env_file"]
    assert ".env" in (ROOT / ".dockerignore").read_text().split(), "secrets must not be baked into the image"


def test_every_secret_is_required_by_compose_with_no_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    uses = {}
    for name, operator, _rest in _INTERPOLATION.findall(text):
        uses.setdefault(name, set()).add(operator)
    for name in SECRETS:
        assert uses.get(name) == {":?"}, (
            f"{name} in docker-compose.yml: {uses.get(name)} (want only ${{{name}:?...}})"
        )
    assert "kibeti:kibeti@" not in text, "the database password has a default"


def _filled_example() -> dict[str, str]:
    """.env.example with its blanks filled as an operator would: strong secrets, real-looking URLs."""
    values = {}
    for name, value in _example().items():
        if value:
            values[name] = value
        elif name.endswith(("_URL", "_BASE_URL")):
            values[name] = f"https://svc{len(values)}.example.co.ke"  # no word Daraja refuses
        elif name in ("AT_USERNAME", "MPESA_INITIATOR_NAME"):
            values[name] = "kibeti"
        else:
            values[name] = secrets.token_hex(24)
    values["CALLBACK_IP_ALLOWLIST"] = '["196.201.214.200"]'
    env = _compose()["x-kibeti"]["environment"]
    for name in ("DATABASE_URL", "REDIS_URL"):
        values[name] = _INTERPOLATION.sub(lambda m: values[m.group(1)], env[name])
    return values


def _settings(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_a_filled_in_env_example_starts_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    _settings(_filled_example(), monkeypatch).check_production()


@pytest.mark.parametrize(
    "name",
    ["SECRET_KEY", "MASTER_PASSPHRASE", "MPESA_CONSUMER_KEY", "AT_API_KEY", "FX_API_KEY", "FX_USD_KES_URL",
     "FX_CRYPTO_URL", "AT_BASE_URL", "MPESA_BASE_URL", "ETHEREUM_RPC_URL"],
)  # fmt: skip
def test_leaving_a_value_blank_refuses_production_naming_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = _filled_example()
    values[name] = ""
    with pytest.raises(ConfigError, match=name):
        _settings(values, monkeypatch).check_production()
