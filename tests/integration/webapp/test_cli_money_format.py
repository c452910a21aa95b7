"""The CLI writes money in the house format (core.money.format_money: "KES 500.00"), as every
channel does: the paybill simulator's receipt line, the fee schedule, the CTR candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.daraja.paybill import describe
from tests.cli import kibeti

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # web3 imports websockets.legacy


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    return {"KIBETI_ENV": "test", "DATABASE_URL": sqlite_url, "REDIS_URL": "", "DATA_DIR": str(tmp_path)}


def _paid(amount: object) -> dict[str, object]:
    return {
        "status": "completed", "amount": amount, "shortcode": "600000", "bill_ref": "0711000222",
        "trans_id": "SIM123",
    }  # fmt: skip


@pytest.mark.parametrize("amount", ["500", 500, "500.00"])
def test_simulate_c2b_says_paid_in_the_house_money_format(amount: object) -> None:
    line = describe(_paid(amount), "credited")
    assert line.startswith("Paid KES 500.00 to paybill 600000, account 0711000222: M-Pesa SIM123"), line
    assert describe(_paid("250000")).startswith("Paid KES 250,000.00 to paybill")


def test_a_payment_record_without_an_amount_still_reads() -> None:
    assert describe(_paid("n/a")).startswith("Paid KES n/a to paybill")


def test_the_fee_schedule_shows_fixed_fees_and_caps_as_money(env: dict[str, str]) -> None:
    done = kibeti("fx", "fees", "--asset", "BTC", env=env)
    assert done.returncode == 0, done.stderr
    assert "mpesa           0% + KES 30.00" in done.stdout, done.stdout
    assert "withdrawal      0.5% + BTC 0.00" in done.stdout, done.stdout
