"""A production process (KIBETI_ENV=production, every real endpoint configured) builds its Runtime and
its web app through the production bootstrap without importing anything from simulators/ (issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, sys
from wallets.adapter import dev_account_keys
from wallets.networks import BitcoinNet, Network
import os
keys = dev_account_keys(BitcoinNet.MAINNET)
os.environ.update({"BTC_ACCOUNT_XPUB": keys[Network.BTC], "ETH_ACCOUNT_XPUB": keys[Network.ERC20],
                   "TRON_ACCOUNT_XPUB": keys[Network.TRC20]})
from webapp.bootstrap import build_runtime
from webapp.app import create_app
runtime = build_runtime(kind="web")
create_app(runtime)
print(json.dumps({
    "production": runtime.settings.is_production,
    "simulators": sorted(m for m in sys.modules if m == "simulators" or m.startswith("simulators.")),
    "wired": [runtime.chain_simulation is not None, runtime.sms_simulator_url is not None,
              runtime.telegram_double is not None],
}))
"""

PRODUCTION = {
    "KIBETI_ENV": "production",
    "SECRET_KEY": "s3cr3t-k3y-f0r-a-pr0duct10n-bu1ld-ABCDEFGHIJ",
    "MASTER_PASSPHRASE": "a production-like master passphrase 0123456789",
    "DATABASE_URL": "postgresql+asyncpg://kibeti@127.0.0.1:1/kibeti",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "MPESA_BASE_URL": "https://api.safaricom.co.ke",
    "MPESA_CONSUMER_KEY": "key",
    "MPESA_CONSUMER_SECRET": "secret",
    "MPESA_PASSKEY": "passkey",
    "MPESA_INITIATOR_PASSWORD": "initiator",
    "MPESA_CALLBACK_BASE_URL": "https://kibeti.example",
    "MPESA_CALLBACK_TOKEN": "Zx81kQ2vLw93nB7tYh45rP0u",
    "AT_CALLBACK_TOKEN": "Hq72mN4xVb81cZ3wKe69tY0s",
    "AT_API_KEY": "at-key",
    "AT_USERNAME": "kibeti",
    "AT_BASE_URL": "https://api.africastalking.com",
    "ETHEREUM_RPC_URL": "https://eth.example",
    "TRON_RPC_URL": "https://tron.example",
    "BITCOIN_RPC_URL": "https://esplora.example",
    "FX_API_KEY": "fx-key",
    "FX_USD_KES_URL": "https://fx.example/latest/USD",
    "FX_CRYPTO_URL": "https://prices.example",
    "CALLBACK_IP_ALLOWLIST": '["196.201.214.200"]',
    "PESAPAL_BASE_URL": "https://pay.pesapal.com/v3",
    "PESAPAL_CONSUMER_KEY": "pesapal-key",
    "PESAPAL_CONSUMER_SECRET": "pesapal-secret",
}


def test_the_production_bootstrap_imports_no_simulator(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), **PRODUCTION}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"production": True, "simulators": [], "wired": [False, False, False]}
