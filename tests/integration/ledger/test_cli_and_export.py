"""`kibeti ledger verify` and the Beancount export, through the CLI (in-process, tests/cli.py) on a real database."""

from __future__ import annotations

import os
import subprocess
import sys

from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from tests.cli import kibeti


async def _seed(url: str) -> None:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        float_kes = await ledger.system_account(
            session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
        )
        fees = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=Asset.KES)
        alice = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=Asset.KES
        )
        bob = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=2, asset=Asset.KES
        )
        usdt = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=1, asset=Asset.USDT_TRC20
        )
        custody = await ledger.system_account(
            session=session, kind=AccountKind.CUSTODY, asset=Asset.USDT_TRC20
        )
        await ledger.post_entry(
            session=session,
            idempotency_key="dep",
            kind="deposit",
            memo='M-Pesa "STK" top-up',
            postings=[
                PostingRequest(float_kes.id, -Money.of("500", Asset.KES)),
                PostingRequest(alice.id, Money.of("500", Asset.KES)),
            ],
        )
        await ledger.transfer(
            session=session,
            idempotency_key="t",
            from_account_id=alice.id,
            to_account_id=bob.id,
            amount=Money.of("100.25", Asset.KES),
            fee=Money.of("0.75", Asset.KES),
            fee_account_id=fees.id,
        )
        await ledger.post_entry(
            session=session,
            idempotency_key="chain",
            kind="deposit",
            postings=[
                PostingRequest(custody.id, -Money.of("12.345678", Asset.USDT_TRC20)),
                PostingRequest(usdt.id, Money.of("12.345678", Asset.USDT_TRC20)),
            ],
        )
        await session.commit()
    await engine.dispose()


def _kibeti(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return kibeti(*args, env={"DATABASE_URL": url, "REDIS_URL": ""})


async def test_verify_passes_then_detects_tampering(sqlite_url):
    await _seed(sqlite_url)
    ok = _kibeti(sqlite_url, "ledger", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "Books balance." in ok.stdout

    engine = make_engine(sqlite_url)
    async with engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(text("UPDATE ledger_postings SET amount = amount + 1 WHERE id = 1"))
    await engine.dispose()
    bad = _kibeti(sqlite_url, "ledger", "verify")
    assert bad.returncode == 1
    assert "does not net to zero" in bad.stderr


async def test_beancount_export_passes_bean_check(sqlite_url, tmp_path):
    await _seed(sqlite_url)
    out = tmp_path / "kibeti.beancount"
    result = _kibeti(sqlite_url, "ledger", "export", "--format", "beancount", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "Liabilities:Wallets:C1:KES  -500.00 KES" in text
    assert "12.345678 USDT-TRC20" in text
    bean_check = os.path.join(os.path.dirname(sys.executable), "bean-check")
    checked = subprocess.run([bean_check, str(out)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_cli_explains_wrong_arguments(sqlite_url):
    result = _kibeti(sqlite_url, "ledger", "export", "--format", "csv")
    assert result.returncode == 2
    assert "Invalid value for '--format'" in result.stderr
    assert "Traceback" not in result.stderr
