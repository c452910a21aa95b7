"""A PostgreSQL backup restores into books that still prove themselves (issue 21 item 9): after the
demo seed and money movements, `pg_dump -Fc` of the database, `pg_restore` into a fresh one, then
`kibeti ledger verify` and `kibeti audit verify` pass on the restored copy, with the same balances.
docs/OPERATIONS.md gives operators these same commands."""

from __future__ import annotations

import subprocess
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from compliance.sanctions import registry
from core.db.session import make_engine, make_session_factory
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, Posting
from core.money import Asset, Money
from tests.cli import kibeti
from tests.conftest import _pg_admin, run_blocking


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _move_money(url: str) -> int:
    engine = make_engine(url, null_pool=True)
    factory = make_session_factory(engine)
    try:
        async with factory() as session, session.begin():
            float_account = await ledger.system_account(
                session=session, kind=AccountKind.MPESA_FLOAT, asset=Asset.KES
            )
            wallet = await ledger.get_or_open_account(
                session=session, owner_type=OwnerType.CUSTOMER, owner_id=1, asset=Asset.KES
            )
            for n in range(5):
                await ledger.transfer(
                    session=session,
                    idempotency_key=f"backup-test-{n}",
                    from_account_id=float_account.id,
                    to_account_id=wallet.id,
                    amount=Money.of(Decimal("125.50"), Asset.KES),
                    kind="mpesa_collection",
                )
        async with factory() as session:
            return int(await session.scalar(select(func.count()).select_from(Posting)) or 0)
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_dump_and_restore_keep_the_books_provable(clean_pg_url: str) -> None:
    env = {"DATABASE_URL": clean_pg_url, "REDIS_URL": ""}
    seeded = kibeti("demo", env=env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    postings = run_blocking(_move_money, clean_pg_url)
    assert postings >= 10
    before = kibeti("ledger", "verify", env=env)
    assert before.returncode == 0, before.stdout + before.stderr

    restored_name = f"kibeti_restore_{uuid.uuid4().hex[:8]}"
    restored_url = f"{clean_pg_url.rsplit('/', 1)[0]}/{restored_name}"
    run_blocking(_pg_admin, f'CREATE DATABASE "{restored_name}"')
    try:
        dump = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", _libpq(clean_pg_url)],
            capture_output=True, timeout=300, check=True,
        )  # fmt: skip
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq(restored_url)],
            input=dump.stdout, capture_output=True, timeout=300, check=True,
        )  # fmt: skip
        restored_env = {"DATABASE_URL": restored_url, "REDIS_URL": ""}
        ledger_check = kibeti("ledger", "verify", env=restored_env)
        assert ledger_check.returncode == 0, ledger_check.stdout + ledger_check.stderr
        audit_check = kibeti("audit", "verify", env=restored_env)
        assert audit_check.returncode == 0, audit_check.stdout + audit_check.stderr
        assert run_blocking(_count_postings, restored_url) == postings
    finally:
        run_blocking(_pg_admin, f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
        registry.clear()  # `kibeti demo` ran in this process: its sanctions list must not outlive the test


async def _count_postings(url: str) -> int:
    engine = make_engine(url, null_pool=True)
    try:
        async with make_session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(Posting)) or 0)
    finally:
        await engine.dispose()
