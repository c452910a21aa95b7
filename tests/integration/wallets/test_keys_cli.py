"""`kibeti keys xpubs`: the signer's export of its account keys is what the settings promise (issue 11
item 7): the vpub on test nets, the zpub on mainnet, each accepted by the start-up check."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from core.config import Settings
from core.security.keyring import keyring_from_settings
from wallets.hd.custody import seal_seed
from wallets.hd.keys import seed_from_mnemonic
from webapp.cli.keys import cli

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
PASSPHRASE = "a long test master passphrase for the signer"


@pytest.mark.parametrize(
    ("net", "prefix"), [("testnet", "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3H"), ("mainnet", "zpub6rFR7y4Q2Aij")]
)
def test_the_export_is_the_promised_key(monkeypatch: pytest.MonkeyPatch, net: str, prefix: str) -> None:
    sealed = seal_seed(
        seed_from_mnemonic(MNEMONIC),
        keyring=keyring_from_settings(Settings(_env_file=None, master_passphrase=PASSPHRASE)),
    )
    monkeypatch.setenv("MASTER_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("WALLET_SEED_SEALED", sealed)
    monkeypatch.setenv("BITCOIN_NET", net)
    result = CliRunner().invoke(cli, ["xpubs"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.output.splitlines())
    assert lines["BTC_ACCOUNT_XPUB"].startswith(prefix)
    assert lines["ETH_ACCOUNT_XPUB"].startswith("xpub") and lines["TRON_ACCOUNT_XPUB"].startswith("xpub")


def test_a_wrong_passphrase_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = seal_seed(
        seed_from_mnemonic(MNEMONIC),
        keyring=keyring_from_settings(Settings(_env_file=None, master_passphrase=PASSPHRASE)),
    )
    monkeypatch.setenv("MASTER_PASSPHRASE", "another long passphrase, not the one")
    monkeypatch.setenv("WALLET_SEED_SEALED", sealed)
    result = CliRunner().invoke(cli, ["xpubs"])
    assert result.exit_code == 1 and "Traceback" not in result.output and "Error:" in result.output
    monkeypatch.delenv("WALLET_SEED_SEALED")
    assert CliRunner().invoke(cli, ["xpubs"]).exit_code == 2  # not set: a usage error
