"""Issue 15's done-when from a terminal (embedded default, SQLite): `kibeti merchant create`,
`activate`, `api-key`; `kibeti invoice create` for KES 2,500; `simulate-pay` half on TRC20
(PaidPartial), the rest (Processing), 20 blocks (Settled); `kibeti ledger verify` balances."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from compliance.sanctions import store
from compliance.sanctions.loader import SanctionsList
from core.clock import SystemClock
from core.config import get_settings
from core.db.session import make_engine, make_session_factory
from core.fx import service as fx
from core.fx.sources import DemoRateSource
from core.invoices.errors import InvalidInvoiceAmount, InvoiceNotPayable
from webapp.cli import _discover, kibeti


@pytest.fixture
def cli_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    asyncio.run(_seed(sqlite_url))
    _discover()
    yield sqlite_url
    get_settings.cache_clear()


async def _seed(url: str) -> None:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session, session.begin():
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=SystemClock())
        await store.save_version(session=session, lists=SanctionsList.from_entities([]), loaded_by="test")
    await engine.dispose()


def _run(*args: str) -> Result:
    return CliRunner().invoke(kibeti, list(args))


def test_done_when_from_the_terminal(cli_env: str) -> None:
    made = _run("merchant", "create", "--name", "Duka la Mama", "--kra-pin", "P051234567X",
                "--settlement", "till", "--till", "123456", "--till-code", "654321")  # fmt: skip
    assert made.exit_code == 0, made.output
    merchant_id = re.search(r"merchant (\d+)", made.output).group(1)  # type: ignore[union-attr]
    activated = _run("merchant", "activate", merchant_id)
    assert activated.exit_code == 0 and "is active" in activated.output, activated.output
    key = _run("merchant", "api-key", merchant_id)
    assert key.exit_code == 0 and "kbt_live_" in key.output
    listed = _run("merchant", "list")
    assert "654321" in listed.output and "active" in listed.output
    created = _run("invoice", "create", "--merchant", merchant_id, "--amount", "2500")
    assert created.exit_code == 0, created.output
    invoice_id = re.search(r"Invoice (inv_\w+)", created.output).group(1)  # type: ignore[union-attr]
    negative = _run("invoice", "simulate-pay", invoice_id, "--network", "trc20", "--amount", "-1")
    assert negative.exit_code == 2 and "--amount" in negative.output, negative.output  # not "nothing left"
    assert "nothing left to pay" not in negative.output
    half = _run("invoice", "simulate-pay", invoice_id, "--network", "trc20", "--fraction", "0.5")
    assert half.exit_code == 0 and "- new (paid_partial)" in half.output, half.output
    rest = _run("invoice", "simulate-pay", invoice_id, "--network", "trc20")
    assert rest.exit_code == 0 and "- processing" in rest.output, rest.output
    waiting = _run("invoice", "mine", invoice_id, "--network", "trc20", "--blocks", "18")
    assert "- processing" in waiting.output, waiting.output  # 19 confirmations of 20
    settled = _run("invoice", "mine", invoice_id, "--network", "trc20", "--blocks", "1")
    assert "- settled" in settled.output, settled.output
    again = _run("invoice", "simulate-pay", invoice_id, "--network", "trc20")
    assert isinstance(again.exception, InvoiceNotPayable) and "is settled" in str(again.exception)
    verify = _run("ledger", "verify")
    assert verify.exit_code == 0, verify.output


def test_create_with_a_thousands_comma(cli_env: str) -> None:
    made = _run("merchant", "create", "--name", "Duka la Mama", "--kra-pin", "P051234567X",
                "--settlement", "till", "--till", "123456", "--till-code", "654321")  # fmt: skip
    merchant_id = re.search(r"merchant (\d+)", made.output).group(1)  # type: ignore[union-attr]
    assert _run("merchant", "activate", merchant_id).exit_code == 0
    created = _run("invoice", "create", "--merchant", merchant_id, "--amount", "1,500")
    assert created.exit_code == 0, created.output
    assert "KES 1,500.00" in created.output, created.output
    ambiguous = _run("invoice", "create", "--merchant", merchant_id, "--amount", "1,50")
    assert isinstance(ambiguous.exception, InvalidInvoiceAmount), ambiguous.output
    assert "groups of 3 digits" in str(ambiguous.exception)
