"""`kibeti` with the wrong arguments a new operator types: each answer is one `Error:` line saying
what to do, exit status 2 for a usage mistake and 1 for a refusal, never a traceback and never a
silent success."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli import kibeti

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # web3 imports websockets.legacy


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    return {"KIBETI_ENV": "test", "DATABASE_URL": sqlite_url, "REDIS_URL": "", "DATA_DIR": str(tmp_path)}


def _error(done: subprocess.CompletedProcess[str], status: int) -> str:
    """The command's one `Error:` line, after checking the exit status and that nothing else went wrong."""
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "KIBETI_DEBUG" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_an_unknown_customer_gets_no_deposit_address(env: dict[str, str]) -> None:
    done = kibeti("chain", "address", "--customer", "9999", "--network", "erc20", env=env)
    assert _error(done, 1) == "Error: no customer 9999"
    assert done.stdout == ""


def test_a_negative_quote_amount_is_an_amount_error_not_an_unknown_option(env: dict[str, str]) -> None:
    line = _error(kibeti("quote", "buy", "-5", "KES", "BTC", env=env), 2)
    assert "No such option" not in line and "AMOUNT" in line and "more than zero" in line
    typo = _error(kibeti("quote", "buy", "100", "KES", "BTC", "--rial", "mpesa", env=env), 2)
    assert "No such option '--rial'" in typo  # a misspelt option is still named as one


def test_screening_needs_something_to_screen_and_a_real_date(env: dict[str, str]) -> None:
    assert "give a NAME, --id-number or --address" in _error(kibeti("sanctions", "screen", env=env), 2)
    bad_dob = kibeti("sanctions", "screen", "John Doe", "--dob", "17/05/1990", env=env)
    assert "--dob" in (line := _error(bad_dob, 2)) and "YYYY-MM-DD" in line


def test_settlements_of_an_unknown_merchant_are_refused_by_name(env: dict[str, str]) -> None:
    assert _error(kibeti("settlement", "list", "9999", env=env), 1) == "Error: no merchant 9999"
    run = kibeti("settlement", "run", "--merchant", "9999", "--wait", "0", env=env)
    assert _error(run, 1) == "Error: no merchant 9999" and "Nothing to settle" not in run.stdout
    assert "SETTLEMENT_ID" in _error(kibeti("settlement", "statement", "last", env=env), 2)


@pytest.mark.parametrize("amount", ["-10", "abc", "0", "12.50", "250001"])
def test_a_paybill_amount_is_checked_before_the_simulator_is_called(env: dict[str, str], amount: str) -> None:
    done = kibeti(
        "mpesa", "simulate-c2b", "--phone", "+254700000001", "--amount", amount,
        env={**env, "MPESA_CALLBACK_BASE_URL": "http://127.0.0.1:19299"},  # nothing listens there
    )  # fmt: skip
    line = _error(done, 2)
    assert "--amount" in line and "whole shillings from 1 to 250000" in line and "simulator" not in line


def test_a_malformed_payer_phone_is_a_usage_error(env: dict[str, str]) -> None:
    done = kibeti("mpesa", "simulate-c2b", "--phone", "0712", "--amount", "10", env=env)
    assert "--phone" in _error(done, 2)


def test_a_chain_worker_needs_a_positive_idle_time(env: dict[str, str]) -> None:
    done = kibeti("worker", "chain", "--network", "erc20", "--idle", "-1", env=env)
    assert "--idle" in _error(done, 2)


def test_a_crypto_flows_period_must_end_after_it_starts(env: dict[str, str]) -> None:
    done = kibeti(
        "compliance", "report", "crypto-flows", "--from", "2026-01-02", "--to", "2026-01-01", env=env
    )
    assert "--to" in _error(done, 2) and done.stdout == ""


def test_a_database_without_the_schema_says_to_run_db_upgrade(tmp_path: Path) -> None:
    empty = {
        "KIBETI_ENV": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/empty.db",
        "REDIS_URL": "",
    }
    done = kibeti("settlement", "list", "1", env=empty)
    assert done.returncode == 1 and "run `kibeti db upgrade`" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_fee_schedule_of_an_unknown_tier_or_merchant_is_refused(env: dict[str, str]) -> None:
    assert "--tier" in _error(kibeti("fx", "fees", "--tier", "-1", env=env), 2)
    assert "--tier" in _error(kibeti("fx", "fees", "--tier", "9", env=env), 2)
    unknown = kibeti("fx", "fees", "--merchant", "9999", env=env)
    assert _error(unknown, 1) == "Error: no merchant 9999" and unknown.stdout == ""


def test_a_malformed_staff_email_is_one_line_not_a_value_error(env: dict[str, str]) -> None:
    done = kibeti(
        "staff", "create", "--email", "not-an-email", "--role", "admin", "--password", "Very-long-passw0rd!",
        env=env,
    )  # fmt: skip
    line = _error(done, 2)
    assert "--email" in line and "ValueError" not in line and "jane@example.com" in line


def test_a_malformed_staff_email_is_refused_before_the_password_is_asked_for(env: dict[str, str]) -> None:
    done = kibeti("staff", "create", "--email", "notanemail", "--role", "admin", env=env)
    assert "--email" in _error(done, 2) and "Password" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("pesapal", "orders", "--limit", "-1"),
        ("mpesa", "simulator", "--port", "-1"),
        ("serve", "--port", "70000"),
        ("serve", "--workers", "0"),
        ("worker", "payouts", "-n", "0"),
    ],
)
def test_counts_and_ports_out_of_range_are_usage_errors(env: dict[str, str], args: tuple[str, ...]) -> None:
    assert "is not in the range" in _error(kibeti(*args, env=env), 2)


def test_a_report_written_into_a_missing_directory_names_the_path(
    env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "no-such-dir" / "flows.csv"
    done = kibeti(
        "compliance", "report", "crypto-flows", "--from", "2026-01-01", "--to", "2026-01-02", "-o", str(target),
        env=env,
    )  # fmt: skip
    line = _error(done, 1)
    assert str(target) in line and "directory exists" in line


def test_an_unknown_phone_is_refused_and_a_malformed_one_is_a_usage_error(env: dict[str, str]) -> None:
    to = "0x0000000000000000000000000000000000000001"
    withdraw = (
        "chain",
        "withdraw",
        "--network",
        "erc20",
        "--to",
        to,
        "--amount",
        "1",
        "--pin",
        "4826",
        "--yes",
    )
    unknown = kibeti(*withdraw, "--phone", "0799999999", env=env)
    assert "no customer with phone 0799999999" in _error(unknown, 1)
    assert "--phone" in _error(kibeti(*withdraw, "--phone", "0712", env=env), 2)
    listed = kibeti("address", "list", "--phone", "0799999999", env=env)
    assert "no customer with phone 0799999999" in _error(listed, 1)


def test_disabling_an_unknown_staff_user_names_the_address(env: dict[str, str]) -> None:
    done = kibeti("staff", "disable", "--email", "nobody@example.com", env=env)
    assert "no staff user 'nobody@example.com'" in _error(done, 1)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("bogus://x", "DATABASE_URL is not a database URL Kibeti can use"),
        ("not a url", "DATABASE_URL is not a database URL Kibeti can use"),
        ("postgresql+asyncpg://nobody@127.0.0.1:19299/x", "cannot connect"),  # nothing listens there
    ],
)
def test_a_wrong_database_url_is_named(url: str, says: str) -> None:
    done = kibeti("ledger", "verify", env={"KIBETI_ENV": "test", "DATABASE_URL": url, "REDIS_URL": ""})
    assert says in _error(done, 1)


def test_a_ctr_for_an_unknown_customer_is_refused_by_name(env: dict[str, str]) -> None:
    done = kibeti("compliance", "report", "ctr", "--day", "2026-01-01", "--customer", "9999", env=env)
    assert _error(done, 1) == "Error: no customer 9999"


def test_a_malformed_expected_audit_head_names_the_option(env: dict[str, str]) -> None:
    line = _error(kibeti("audit", "verify", "--expect-head", "zzz", env=env), 2)
    assert "--expect-head" in line and "SEQ:HASH" in line


@pytest.mark.parametrize(
    ("flag", "value"), [("--phone", "0712"), ("--amount", "ten"), ("--phone", "0800 000 000")]
)
def test_a_withdrawal_checks_its_arguments_before_asking_for_the_pin(
    env: dict[str, str], flag: str, value: str
) -> None:
    """The customer's PIN was asked first (a prompt before any check), so a mistyped phone number or
    amount was found only after the PIN was typed, or the command stopped at 'Aborted.' unattended."""
    given = {"--phone": "0700000001", "--amount": "1", flag: value}
    done = kibeti(
        "chain", "withdraw", "--network", "erc20", "--to", "0x0000000000000000000000000000000000000001",
        *(part for pair in given.items() for part in pair), env=env,
    )  # fmt: skip
    assert flag in _error(done, 2) and "Customer PIN" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("pair", "rate", "says"),
    [
        ("USDKES", "129.5", "give one of USD/KES"),
        ("DOGE/KES", "129.5", "give one of USD/KES"),
        ("USDT/KES", "abc", "give a positive number"),
        ("USD/KES", "0", "give a positive number"),
    ],
)
def test_a_manual_rate_is_checked_before_the_staff_password_is_asked(
    env: dict[str, str], pair: str, rate: str, says: str
) -> None:
    """The password and code were asked (and a sign-in tried, which counts towards the lockout)
    before 'USDKES' or 'abc' was found wrong."""
    done = kibeti(
        "fx", "override", "propose", pair, rate, "--reason", "x", "--email", "a@example.com", env=env
    )
    assert says in _error(done, 2)
    assert "Password" not in done.stdout + done.stderr
